import type pg from "pg";
import { sleep } from "../context.js";
import { prefixMemory, redisUsedMemory } from "../env/redis.js";
import type { FigureSpec } from "../figures.js";
import { connectClient, createMany, promptlineEnv } from "../promptline.js";
import { repeat, type Scenario } from "./scenario.js";

const MB = 1024 * 1024;
/** Creation is setup here, not the figure: more calls in flight than the throughput scenario. */
const SETUP_CONCURRENCY = 8;
/** Lets the allocator and GC settle before RSS is read. */
const SETTLE_MS = 1_000;

/** Scenario 6: what a backlog of queued tasks costs in Redis, and the processes' resident memory. */
export const memory: Scenario = {
  id: "memory",
  title: "6. Memory",
  async run(ctx) {
    const { tasks, warmupTasks } = ctx.settings.memory;
    const specs: FigureSpec[] = [
      {
        id: "redis_bytes_per_task",
        label: "Redis bytes per queued task (this run's keys)",
        unit: "B",
        better: "lower",
        role: "promptline",
        targets: [{ kind: "absolute", op: "<", value: 1024 }],
      },
      {
        id: "redis_used_memory_bytes_per_task",
        label: "Redis used_memory delta per queued task (whole server, noisy)",
        unit: "B",
        better: "lower",
        role: "promptline",
      },
      {
        id: "api_rss_mb",
        label: "API process RSS with the backlog",
        unit: "MB",
        better: "lower",
        role: "promptline",
      },
      {
        id: "api_rss_bytes_per_task",
        label: "API process RSS growth per task created",
        unit: "B",
        better: "lower",
        role: "promptline",
      },
      {
        id: "worker_rss_mb",
        label: "worker process RSS, started on the backlog",
        unit: "MB",
        better: "lower",
        role: "promptline",
      },
    ];
    const samples = await repeat(ctx, "memory", async (scope) => {
      const env = await promptlineEnv(ctx, scope);
      const api = await env.start("api");
      if (api.url === undefined) throw new Error("the api process has no URL");
      const client = connectClient(api.url);
      const create = (count: number, tag: string) =>
        createMany(client, {
          count,
          batchSize: ctx.settings.batchSize,
          concurrency: SETUP_CONCURRENCY,
          prompt: (i) => `${tag} ${i}`,
        });

      await create(warmupTasks, "warm-up");
      await sleep(SETTLE_MS);
      const before = {
        apiRss: await api.rssBytes(),
        prefix: await prefixMemory(ctx.redisUrl, env.queuePrefix),
        usedMemory: await redisUsedMemory(ctx.redisUrl),
      };
      ctx.log(`  creating ${tasks.toLocaleString("en-US")} queued tasks`);
      const ids = await create(tasks, "backlog");
      await sleep(SETTLE_MS);
      const after = {
        apiRss: await api.rssBytes(),
        prefix: await prefixMemory(ctx.redisUrl, env.queuePrefix),
        usedMemory: await redisUsedMemory(ctx.redisUrl),
      };
      const queued = await countQueued(env.database.pool);
      if (ids.length !== tasks || queued !== warmupTasks + tasks) {
        throw new Error(
          `created ${ids.length} tasks but ${queued} are queued (expected ${warmupTasks + tasks})`,
        );
      }

      const worker = await env.start("worker");
      await sleep(2 * SETTLE_MS);
      const workerRss = await worker.rssBytes();
      return {
        values: {
          redis_bytes_per_task: (after.prefix.bytes - before.prefix.bytes) / tasks,
          redis_used_memory_bytes_per_task: (after.usedMemory - before.usedMemory) / tasks,
          api_rss_mb: after.apiRss / MB,
          api_rss_bytes_per_task: (after.apiRss - before.apiRss) / tasks,
          worker_rss_mb: workerRss / MB,
        },
        detail: { created: ids.length, queued, before, after, workerRss },
      };
    });
    return {
      method: [
        `An api process alone (no worker, so every task stays queued): ${warmupTasks.toLocaleString("en-US")} warm-up tasks, then ${tasks.toLocaleString("en-US")} more with BatchCreateTasks; each run checks that all of them are queued in PostgreSQL.`,
        "Redis per task: the growth of the sum of `MEMORY USAGE key SAMPLES 0` over this run's queue prefix (exact, and blind to other users of the shared Redis) ÷ tasks. The INFO `used_memory` delta is shown too; other processes share that Redis, so it is noisy.",
        `RSS from /proc after ${SETTLE_MS} ms of quiet. The worker is started on the full backlog afterwards (WORKER_CONCURRENCY=${ctx.settings.workerConcurrency}) and its RSS read ${(2 * SETTLE_MS) / 1000} s later, while it works through it.`,
      ],
      specs,
      samples,
    };
  },
};

async function countQueued(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "select count(*)::int as n from tasks where status = 'queued'",
  );
  return rows[0]?.n ?? 0;
}
