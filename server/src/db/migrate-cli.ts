import { createPostgresDb } from "./connection.js";
import { migrateToLatest } from "./migrate.js";

/**
 * `pnpm db:migrate`: migrates the database at DATABASE_URL and says what ran.
 * The one place in db/ that reads the environment, because it is a program.
 */
async function main(): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL?.trim();
  if (databaseUrl === undefined || databaseUrl === "") {
    console.error(
      "db:migrate: DATABASE_URL is not set (e.g. postgres://user@host:5432/db). " +
        "The embedded PGlite database migrates itself when the server starts.",
    );
    return 2;
  }
  const db = createPostgresDb(databaseUrl, {
    applicationName: "promptline-migrate",
    maxConnections: 2,
  });
  try {
    const ran = await migrateToLatest(db);
    if (ran.length === 0) {
      console.log("db:migrate: already up to date");
    } else {
      for (const name of ran) console.log(`db:migrate: ran ${name}`);
    }
    return 0;
  } catch (error) {
    console.error(`db:migrate: ${describe(error)}`);
    return 1;
  } finally {
    await db.destroy();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause !== undefined && "code" in cause ? ` (${String(cause.code)})` : "";
  return `${error.message}${code}`;
}

process.exitCode = await main();
