import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import type { BenchContext } from "../context.js";
import { epochMs } from "../context.js";
import { createBenchDatabase } from "../env/database.js";
import { forEachLimit } from "../promptline.js";
import type { Scope } from "../scope.js";
import { startBullmq } from "./bullmq.js";
import { type BaselineSystem, batchesOf, timeoutFor } from "./system.js";

/** The least a task row needs: what it is, where it is in its life, and when it moved. */
const SCHEMA = `create table bench_tasks (
  id uuid primary key,
  prompt text not null,
  status text not null,
  output text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz
)`;

/**
 * Baseline (b): BullMQ plus the minimum PostgreSQL writes of a task's life
 * with plain pg, one statement each — insert (one multi-row INSERT per
 * batch, as BatchCreateTasks does), then in the worker a guarded claim
 * UPDATE and a guarded complete UPDATE. Same pool size as a Promptline
 * process (pg's default, 10), same batch size and worker concurrency.
 */
export async function startBullmqPgBaseline(
  ctx: BenchContext,
  scope: Scope,
): Promise<BaselineSystem> {
  const database = scope.add(
    await createBenchDatabase({ adminUrl: ctx.adminDatabaseUrl, migrate: false }),
    (db) => db.drop(),
  );
  await database.pool.query(SCHEMA);
  const pool = scope.add(
    new pg.Pool({ connectionString: database.url, application_name: "promptline-bench-baseline" }),
    (p) => p.end(),
  );
  // An idle connection cut when the database is dropped at the end must not crash the bench.
  pool.on("error", () => {});
  const { queue, counter } = await startBullmq(ctx, scope, "bullmqpg", async (id) => {
    const claimed = await pool.query({
      name: "claim",
      text: "update bench_tasks set status = 'running', started_at = now() where id = $1 and status = 'queued'",
      values: [id],
    });
    if (claimed.rowCount !== 1) throw new Error(`task ${id} was not claimable`);
    await pool.query({
      name: "complete",
      text: "update bench_tasks set status = 'completed', completed_at = now(), output = $2 where id = $1 and status = 'running'",
      values: [id, "Echo: bench"],
    });
  });
  const insert = async (ids: readonly string[]) => {
    await pool.query({
      name: "insert",
      text: "insert into bench_tasks (id, prompt, status) select id, 'bench', 'queued' from unnest($1::uuid[]) as id",
      values: [ids],
    });
  };
  const { batchSize, createConcurrency } = ctx.settings;
  return {
    id: "bullmq_pg",
    label: "(b) BullMQ + pg writes",
    async runMany(count) {
      const before = counter.count;
      const startedAt = epochMs();
      await forEachLimit(batchesOf(count, batchSize), createConcurrency, async (size) => {
        const ids = Array.from({ length: size }, () => uuidv7());
        await insert(ids);
        await queue.addBulk(ids.map((id) => ({ name: "run", data: null, opts: { jobId: id } })));
      });
      const finishedAt = await counter.until(before + count, timeoutFor(count));
      const completed = await completedCount(pool);
      return { startedAt, finishedAt, created: count, completed: completed - before };
    },
    async runOne() {
      const target = counter.count + 1;
      const id = uuidv7();
      const startedAt = epochMs();
      await insert([id]);
      await queue.add("run", null, { jobId: id });
      return (await counter.until(target, timeoutFor(1))) - startedAt;
    },
  };
}

async function completedCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "select count(*)::int as n from bench_tasks where status = 'completed'",
  );
  return rows[0]?.n ?? 0;
}
