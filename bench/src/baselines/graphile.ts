import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";
import pg from "pg";
import type { BenchContext } from "../context.js";
import { epochMs, sleep } from "../context.js";
import { createBenchDatabase } from "../env/database.js";
import { forEachLimit } from "../promptline.js";
import type { Scope } from "../scope.js";
import { type BaselineSystem, batchesOf, CompletionCounter, timeoutFor } from "./system.js";

const silent = new Logger(() => () => {});

/**
 * Baseline (c): graphile-worker, a PostgreSQL-only job queue, running no-op
 * jobs with its default settings (no local queue, no batched completion)
 * and the same worker concurrency; jobs are added with addJobs in batches of
 * Promptline's size. Its schema is installed in a fresh database.
 */
export async function startGraphileBaseline(
  ctx: BenchContext,
  scope: Scope,
): Promise<BaselineSystem> {
  const database = scope.add(
    await createBenchDatabase({ adminUrl: ctx.adminDatabaseUrl, migrate: false }),
    (db) => db.drop(),
  );
  // Pools of our own (graphile-worker's default size, 10) so that dropping the
  // database at the end cannot surface as an unhandled pool error.
  const newPool = () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 10 });
    pool.on("error", () => {});
    pool.on("connect", (client) => client.on("error", () => {}));
    return scope.add(pool, (p) => p.end());
  };
  const workerPool = newPool();
  const utilsPool = newPool();
  await runMigrations({ pgPool: workerPool, logger: silent });
  const counter = new CompletionCounter();
  const runner = scope.add(
    await run({
      pgPool: workerPool,
      concurrency: ctx.settings.workerConcurrency,
      noHandleSignals: true,
      logger: silent,
      taskList: { noop: async () => {} },
    }),
    (r) => r.stop(),
  );
  // Registered before any job exists.
  runner.events.on("job:success", () => counter.tick());
  runner.events.on("job:error", ({ error }) =>
    counter.fail(error instanceof Error ? error : new Error(String(error))),
  );
  const utils = scope.add(
    await makeWorkerUtils({ pgPool: utilsPool, logger: silent }),
    async (u) => {
      await u.release();
    },
  );
  const { batchSize, createConcurrency } = ctx.settings;
  return {
    id: "graphile",
    label: "(c) graphile-worker, no-op",
    async runMany(count) {
      const before = counter.count;
      const startedAt = epochMs();
      await forEachLimit(batchesOf(count, batchSize), createConcurrency, async (size) => {
        await utils.addJobs(
          Array.from({ length: size }, () => ({ identifier: "noop", payload: {} })),
        );
      });
      await counter.until(before + count, timeoutFor(count));
      // job:success fires before the job's row is deleted; done means deleted.
      const finishedAt = await untilNoJobs(database.pool);
      return { startedAt, finishedAt, created: count, completed: counter.count - before };
    },
    async runOne() {
      const target = counter.count + 1;
      const startedAt = epochMs();
      await utils.addJob("noop", {});
      return (await counter.until(target, timeoutFor(1))) - startedAt;
    },
  };
}

/** Polls (every 2 ms) until graphile-worker's job table is empty; returns when it saw that. */
async function untilNoJobs(pool: pg.Pool): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      "select count(*)::int as n from graphile_worker.jobs",
    );
    const seenAt = epochMs();
    if (rows[0]?.n === 0) return seenAt;
    if (Date.now() > deadline) throw new Error(`graphile-worker still holds ${rows[0]?.n} jobs`);
    await sleep(2);
  }
}
