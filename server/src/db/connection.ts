import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import {
  Kysely,
  PGliteDialect,
  type PostgresCursor,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
} from "kysely";
import {
  type CustomTypesConfig,
  Pool,
  type PoolClient,
  type PoolConfig,
  type QueryConfig,
  type QueryResult,
  types,
} from "pg";
import { querySignal } from "./abort.js";
import { preparedStatementName } from "./precompiled.js";
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
  const config: PoolConfig = {
    connectionString: databaseUrl,
    max: options.maxConnections,
    application_name: options.applicationName ?? "promptline",
    types: pgTypes,
    // Tasks are read from cache or SSD, not spinning disks. With the default
    // random_page_cost of 4, a text search for a word the statistics do not
    // list walks the whole primary key (44 ms at 100k tasks, linear in the
    // table) instead of using the GIN index (0.06 ms): bench/NOTES.md, round 2.
    // An `options` parameter in DATABASE_URL replaces this (pg reads the URL last).
    options: "-c random_page_cost=1.1",
  };
  const pool = new Pool(config);
  const onIdleConnectionError = options.onIdleConnectionError;
  pool.on("error", (error) => onIdleConnectionError?.(error));
  // A client checked out between two statements (inside a transaction) has no
  // pool listener; without its own, a dropped connection would crash the process.
  // The statement in flight fails on its own; here it is only noted.
  pool.on("connect", (client) => {
    client.on("error", (error) => onIdleConnectionError?.(error));
  });
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: cancellable(pool, config) }) });
}

/**
 * The pool as Kysely sees it, with each query tied to the caller's abort
 * signal ({@link querySignal}): a query whose signal has fired is not sent,
 * and one in flight when it fires is cancelled with `pg_cancel_backend`, so
 * a statement stuck behind a lock ends (SQLSTATE 57014) and its connection
 * goes back to the pool instead of waiting for the lock. The query settles
 * only after the cancel is done, so the connection cannot run another
 * query that the cancel would hit by mistake. Queries without a signal
 * (workers, migrations) pass straight through.
 */
function cancellable(pool: Pool, config: PoolConfig): PostgresPool {
  // Cancels go over connections of their own, so an exhausted pool cannot delay
  // them; two at most (opened on the first cancel, closed when idle) so that a
  // burst of expired calls cannot use up the server's connections.
  const control = new Pool({
    ...config,
    max: 2,
    idleTimeoutMillis: 5_000,
    application_name: "promptline-cancel",
  });
  control.on("error", () => undefined);
  const cancel = async (pid: number) => {
    await control.query("select pg_cancel_backend($1)", [pid]);
  };
  return {
    options: pool.options,
    end: async () => {
      await Promise.all([pool.end(), control.end()]);
    },
    connect: async () => new CancellableClient(await pool.connect(), cancel),
  };
}

const ROLLBACK = /^\s*rollback\b/i;

class CancellableClient implements PostgresPoolClient {
  readonly #client: PoolClient;
  readonly #cancel: (pid: number) => Promise<void>;

  constructor(client: PoolClient, cancel: (pid: number) => Promise<void>) {
    this.#client = client;
    this.#cancel = cancel;
  }

  release(destroy?: boolean): void {
    this.#client.release(destroy);
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sql: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // The dialect is made without a cursor class, so Kysely never streams.
    if (typeof sql !== "string") throw new Error("streaming queries are not configured");
    const signal = querySignal();
    const query: QueryConfig = {
      name: preparedStatementName(sql),
      text: sql,
      values: [...(parameters ?? [])],
    };
    // A rollback always goes out: it is what ends a cancelled call's transaction,
    // and a connection whose rollback failed is closed instead of reused.
    const running =
      signal === undefined || ROLLBACK.test(sql)
        ? this.#client.query(query)
        : abortableQuery(this.#client, query, signal, this.#cancel);
    // The same object: Kysely's interface for pg's result is narrower than @types/pg's.
    return running as Promise<unknown> as Promise<PostgresQueryResult<R>>;
  }
}

async function abortableQuery(
  client: PoolClient,
  query: QueryConfig,
  signal: AbortSignal,
  cancel: (pid: number) => Promise<void>,
): Promise<QueryResult> {
  signal.throwIfAborted();
  let cancelling: Promise<void> | undefined;
  const onAbort = () => {
    // The backend's pid from the connection handshake: pg keeps it, undocumented (Kysely uses it too).
    const pid: unknown = Reflect.get(client, "processID");
    if (typeof pid === "number") cancelling = cancel(pid).catch(() => undefined);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await client.query(query);
  } finally {
    signal.removeEventListener("abort", onAbort);
    await cancelling;
  }
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
