import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { BenchContext } from "../context.js";
import { epochMs } from "../context.js";
import { deleteKeys, newQueuePrefix } from "../env/redis.js";
import { forEachLimit } from "../promptline.js";
import type { Scope } from "../scope.js";
import { type BaselineSystem, batchesOf, CompletionCounter, timeoutFor } from "./system.js";

const QUEUE_NAME = "bench";

/** The BullMQ half of a baseline: a producer, a worker with `process`, and a completion counter. */
export interface BullmqParts {
  queue: Queue;
  counter: CompletionCounter;
}

/**
 * A queue and a worker on a fresh prefix, connected the way Promptline
 * connects (a producer that fails fast, a worker that retries forever),
 * released with `scope`. `process` is the job body.
 */
export async function startBullmq(
  ctx: BenchContext,
  scope: Scope,
  kind: string,
  process: (jobId: string) => Promise<void>,
): Promise<BullmqParts> {
  const prefix = scope.add(newQueuePrefix(kind), (p) => deleteKeys(ctx.redisUrl, p));
  const producer = scope.add(
    new Redis(ctx.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
    async (r) => r.disconnect(),
  );
  const queue = scope.add(
    new Queue(QUEUE_NAME, {
      connection: producer,
      prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    }),
    (q) => q.close(),
  );
  await queue.waitUntilReady();
  const counter = new CompletionCounter();
  const consumer = scope.add(new Redis(ctx.redisUrl, { maxRetriesPerRequest: null }), async (r) =>
    r.disconnect(),
  );
  const worker = scope.add(
    new Worker(
      QUEUE_NAME,
      async (job) => {
        if (job.id === undefined) throw new Error("job without id");
        await process(job.id);
      },
      { connection: consumer, prefix, concurrency: ctx.settings.workerConcurrency },
    ),
    (w) => w.close(),
  );
  // Registered before any job exists.
  worker.on("completed", () => counter.tick());
  worker.on("failed", (_job, error) => counter.fail(error));
  await worker.waitUntilReady();
  return { queue, counter };
}

/**
 * Baseline (a): BullMQ alone, no database. Jobs carry no payload, like
 * Promptline's; addBulk in batches of the same size as Promptline's
 * BatchCreateTasks; a worker of the same concurrency that does nothing.
 */
export async function startBullmqBaseline(
  ctx: BenchContext,
  scope: Scope,
): Promise<BaselineSystem> {
  const { queue, counter } = await startBullmq(ctx, scope, "bullmq", async () => {});
  const { batchSize, createConcurrency } = ctx.settings;
  return {
    id: "bullmq",
    label: "(a) BullMQ, no-op",
    async runMany(count) {
      const before = counter.count;
      const startedAt = epochMs();
      await forEachLimit(batchesOf(count, batchSize), createConcurrency, async (size) => {
        await queue.addBulk(Array.from({ length: size }, () => ({ name: "run", data: null })));
      });
      const finishedAt = await counter.until(before + count, timeoutFor(count));
      return { startedAt, finishedAt, created: count, completed: counter.count - before };
    },
    async runOne() {
      const target = counter.count + 1;
      const startedAt = epochMs();
      await queue.add("run", null);
      return (await counter.until(target, timeoutFor(1))) - startedAt;
    },
  };
}
