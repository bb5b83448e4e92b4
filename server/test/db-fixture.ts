import { randomBytes } from "node:crypto";
import { Kysely, PostgresDialect, sql } from "kysely";
import { Pool } from "pg";
import { test } from "vitest";
import { createPostgresDb } from "../src/db/connection.js";
import { migrateToLatest } from "../src/db/migrate.js";
import type { DB } from "../src/db/schema.js";

/** The server that test databases are made on; its `postgres` database is only used to create and drop them. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A fresh database of its own, and how to get rid of it. */
export interface TestDatabase {
  db: Kysely<DB>;
  /** Connection URL of this database, for code that makes its own pool (e.g. a started app). */
  url: string;
  /** Closes `db` and drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Run the migrations (default true). False gives an empty database, for migration tests. */
  migrate?: boolean;
}

/**
 * Creates a database named `promptline_t_<random>` on the test server, migrated
 * unless asked otherwise, so tests run in parallel without seeing each other's
 * rows. A real database rather than a schema, because the migration creates
 * types and functions and the app connects by URL.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `promptline_t_${randomBytes(8).toString("hex")}`;
  await onServer((admin) => sql`create database ${sql.id(name)}`.execute(admin));
  const url = databaseUrl(name);
  const db = createPostgresDb(url, { applicationName: "promptline-test", maxConnections: 5 });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await db.destroy();
    await onServer((admin) =>
      sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin),
    );
  };
  if (options.migrate ?? true) {
    try {
      await migrateToLatest(db);
    } catch (error) {
      await drop();
      throw error;
    }
  }
  return { db, url, drop };
}

/**
 * Vitest fixtures: `db` and `url` of one migrated database per test file,
 * created on first use and dropped after the file's last test. Tests in a
 * file share it, so each makes its own rows (fresh ids) and asserts on those.
 */
export const dbTest = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern; it has none.
  .extend("testDatabase", { scope: "file" }, async ({}, { onCleanup }) => {
    const database = await createTestDatabase();
    onCleanup(() => database.drop());
    return database;
  })
  .extend("db", { scope: "file" }, ({ testDatabase }) => testDatabase.db)
  .extend("url", { scope: "file" }, ({ testDatabase }) => testDatabase.url);

function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(run: (admin: Kysely<unknown>) => Promise<unknown>): Promise<void> {
  const admin = new Kysely<unknown>({
    dialect: new PostgresDialect({
      pool: new Pool({ connectionString: TEST_DATABASE_URL, max: 1 }),
    }),
  });
  try {
    await run(admin);
  } finally {
    await admin.destroy();
  }
}
