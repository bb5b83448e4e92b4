import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect } from "kysely";
import { type CustomTypesConfig, Pool, types } from "pg";
import type { DB } from "./schema.js";

const INT8_OID = 20;

/**
 * int8 as a JS number: counts, sums of tokens and identity ids never get near
 * 2^53, and a number is what callers want. A value that would lose precision
 * fails its query instead of coming back wrong.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int8 value ${text} does not fit in a JS number`);
  }
  return value;
}

/**
 * Per-pool parsers, not pg's process-wide `types.setTypeParser`, so nothing
 * else in the process is affected. numeric stays a string (pg's default).
 */
const pgTypes: CustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === INT8_OID && format !== "binary" ? parseInt8 : types.getTypeParser(oid, format),
};

export interface PostgresDbOptions {
  /** Pool size; pg's default (10) when unset. */
  maxConnections?: number;
  /** Shown in `pg_stat_activity`, to tell api and worker processes apart. */
  applicationName?: string;
  /**
   * Called when an idle pooled connection fails (Postgres restarted, network
   * cut). pg drops that connection and reconnects on the next query; without a
   * listener the pool's `error` event would crash the process.
   */
  onIdleConnectionError?: (error: Error) => void;
}

/**
 * A `Kysely<DB>` on a pg pool, for a real PostgreSQL at `databaseUrl`.
 * Connects lazily: the first query (usually the migration) shows whether the
 * database answers.
 */
export function createPostgresDb(databaseUrl: string, options: PostgresDbOptions = {}): Kysely<DB> {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: options.maxConnections,
    application_name: options.applicationName ?? "promptline",
    types: pgTypes,
  });
  const onIdleConnectionError = options.onIdleConnectionError;
  pool.on("error", (error) => onIdleConnectionError?.(error));
  // A client checked out between two statements (inside a transaction) has no
  // pool listener; without its own, a dropped connection would crash the process.
  // The statement in flight fails on its own; here it is only noted.
  pool.on("connect", (client) => {
    client.on("error", (error) => onIdleConnectionError?.(error));
  });
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * A `Kysely<DB>` on embedded PostgreSQL (PGlite, WASM) — the default when no
 * DATABASE_URL is set. `dataDir` is a directory on disk (made if missing);
 * leave it out for an in-memory database (tests). Returns once the database
 * has started, so a broken data directory fails here, not on the first query.
 *
 * PGlite is one connection in one process: queries are serialized and only one
 * process may open a data directory at a time.
 */
export async function createPgliteDb(dataDir?: string): Promise<Kysely<DB>> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const pglite = new PGlite(dataDir, {
    parsers: { [INT8_OID]: parseInt8 },
  });
  await pglite.waitReady;
  return new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
}
