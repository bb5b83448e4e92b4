import { migrations } from "@promptline/migrations";
import type { Kysely } from "kysely";
import { type MigrationProvider, type MigrationResult, Migrator } from "kysely/migration";
import type { DB } from "./schema.js";

/** The migrations live in code, not a folder: no globbing, same under tsx, vitest and a bundler. */
const provider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};

/** A migration run that failed; `cause` is the database error. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
  /** The migration that failed, when one did (not, say, an unreachable database). */
  readonly migrationName: string | undefined;

  constructor(message: string, migrationName: string | undefined, cause: unknown) {
    super(message, { cause });
    this.migrationName = migrationName;
  }
}

/**
 * Brings the schema up to date and returns the names of the migrations that
 * ran now (none when it already was). Every process calls it at start, so it
 * must be safe to run at once from several: on PostgreSQL, Kysely's Migrator
 * holds an advisory lock around one transaction that re-reads what has run,
 * and on PGlite the single connection serializes it. A failed run leaves the
 * schema as it was and throws a {@link MigrationError}.
 */
export async function migrateToLatest(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === "Error")?.migrationName;
    const reason = reasonOf(error);
    const message =
      failed === undefined
        ? `migrating failed: ${reason}`
        : `migration ${failed} failed: ${reason}`;
    throw new MigrationError(message, failed, error);
  }
  return results.filter(ranNow).map((result) => result.migrationName);
}

/**
 * A database error in words. pg reports a refused connection as an
 * AggregateError with an empty message.
 */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message !== "") return error.message;
  if (error instanceof AggregateError) {
    return error.errors.map(reasonOf).join("; ") || error.name;
  }
  return "code" in error ? String(error.code) : error.name;
}

function ranNow(result: MigrationResult): boolean {
  return result.status === "Success";
}
