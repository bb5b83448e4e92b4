import { type Kysely, type RawBuilder, sql } from "kysely";

/**
 * The built-in user of local mode, made by 0002_auth. Repeated here because
 * migrations import nothing from app code (0002 repeats it too).
 */
const LOCAL_USER_ID = "00000000-0000-0000-0000-000000000000";

/** One statement per entry, as in 0001 (PGlite refuses several in one query). */
const statements: RawBuilder<unknown>[] = [
  // Templates stored before this migration were made with no user at all,
  // like tasks before 0002: they go to the local user, an admin.
  sql`
    alter table templates
      add column owner_id uuid not null default ${sql.lit(LOCAL_USER_ID)}::uuid
      references users (id)
  `,
];

/**
 * Every template has an owner: the user who created it, who (with admins)
 * alone may change or delete it. Frozen in time, like 0001 and 0002.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) {
    await statement.execute(db);
  }
}
