import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPostgresDb } from "../../../server/src/db/connection.js";
import { migrateToLatest } from "../../../server/src/db/migrate.js";

/** A database made for one benchmark run, and how to get rid of it. */
export interface BenchDatabase {
  name: string;
  url: string;
  /** A small pool for the bench's own setup and observation queries. */
  pool: pg.Pool;
  /** Closes `pool` and drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

export interface BenchDatabaseOptions {
  /** The server's maintenance database URL; databases are created and dropped through it. */
  adminUrl: string;
  /** Run Promptline's migrations (true) or leave the database empty for a baseline (false). */
  migrate: boolean;
}

/**
 * A fresh database named `promptline_bench_<random>`, so a run never sees
 * another run's rows (or a test's), and dropping it leaves nothing behind.
 */
export async function createBenchDatabase(options: BenchDatabaseOptions): Promise<BenchDatabase> {
  const name = `promptline_bench_${randomBytes(6).toString("hex")}`;
  await onAdmin(options.adminUrl, `create database ${name}`);
  const url = databaseUrl(options.adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: "promptline-bench" });
  pool.on("error", () => {
    // An idle connection ended (the database was dropped); the next query reconnects or fails.
  });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await pool.end();
    await onAdmin(options.adminUrl, `drop database if exists ${name} with (force)`);
  };
  try {
    if (options.migrate) {
      const db = createPostgresDb(url, { maxConnections: 1, applicationName: "promptline-bench" });
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy();
      }
    }
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, url, pool, drop };
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onAdmin(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
