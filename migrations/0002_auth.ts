import { type Kysely, type RawBuilder, sql } from "kysely";

/**
 * The built-in user of local mode (AUTH_MODE=local), an admin. Tasks stored
 * before this migration, and tasks created in local mode, belong to it.
 * Repeated in server/src/auth (migrations import nothing from app code); a
 * test holds the two equal.
 */
const LOCAL_USER_ID = "00000000-0000-0000-0000-000000000000";

/** One statement per entry, as in 0001 (PGlite refuses several in one query). */
const statements: RawBuilder<unknown>[] = [
  sql`
    create type user_role as enum ('admin', 'member')
  `,
  sql`
    create table users (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      role user_role not null,
      created_at timestamptz not null default now(),
      constraint users_name_key unique (name)
    )
  `,
  sql`
    insert into users (id, name, role) values (${sql.lit(LOCAL_USER_ID)}, 'local', 'admin')
  `,
  // Keys are 256 random bits, so a plain SHA-256 (hex) is enough to store them:
  // nothing to brute-force, and a lookup is one index probe.
  sql`
    create table api_keys (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      name text not null default '',
      prefix text not null,
      key_hash text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      revoked_at timestamptz,
      constraint api_keys_key_hash_key unique (key_hash)
    )
  `,
  sql`
    create index api_keys_user_id_idx on api_keys (user_id)
  `,
  sql`
    create index api_keys_prefix_idx on api_keys (prefix)
  `,
  sql`
    alter table tasks
      add column owner_id uuid not null default ${sql.lit(LOCAL_USER_ID)}::uuid
      references users (id)
  `,
  // A member's list: their tasks, newest first.
  sql`
    create index tasks_owner_id_id_idx on tasks (owner_id, id desc)
  `,
  // An idempotency key belongs to its owner: two users may pick the same
  // key, and neither may replay (and so read) the other's task with it. The
  // constraint keeps its name, which ON CONFLICT refers to.
  sql`
    alter table tasks drop constraint tasks_idempotency_key_key
  `,
  sql`
    alter table tasks
      add constraint tasks_idempotency_key_key unique (owner_id, idempotency_key)
  `,
];

/**
 * Users (admin or member), their API keys (stored hashed), and an owner for
 * every task. Frozen in time, like 0001.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) {
    await statement.execute(db);
  }
}
