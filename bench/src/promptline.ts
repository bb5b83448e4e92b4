import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService } from "@promptline/proto";
import type { BenchContext } from "./context.js";
import { type BenchDatabase, createBenchDatabase } from "./env/database.js";
import { type PromptlineProcess, startPromptline } from "./env/processes.js";
import { deleteKeys, newQueuePrefix } from "./env/redis.js";
import type { Scope } from "./scope.js";

/** The model every benchmark task runs on: the simulator's echo, answered at once by default. */
export const BENCH_MODEL = "simulator/echo";

export type TaskClient = Client<typeof TaskService>;

/** One isolated Promptline installation: its own database and queue prefix, and its processes. */
export interface PromptlineEnv {
  database: BenchDatabase;
  queuePrefix: string;
  /** Starts a process of this installation; it is stopped when the scope closes. */
  start(role: "all" | "api" | "worker", env?: Record<string, string>): Promise<PromptlineProcess>;
}

/**
 * A fresh migrated database and queue prefix, released with `scope`: the
 * processes stop first, then the queue's keys go, then the database.
 */
export async function promptlineEnv(ctx: BenchContext, scope: Scope): Promise<PromptlineEnv> {
  const database = scope.add(
    await createBenchDatabase({ adminUrl: ctx.adminDatabaseUrl, migrate: true }),
    (db) => db.drop(),
  );
  const queuePrefix = scope.add(newQueuePrefix("pl"), (prefix) => deleteKeys(ctx.redisUrl, prefix));
  return {
    database,
    queuePrefix,
    async start(role, env = {}) {
      return scope.add(
        await startPromptline({
          role,
          databaseUrl: database.url,
          redisUrl: ctx.redisUrl,
          queuePrefix,
          simulatorUrl: ctx.simulatorUrl,
          env: { WORKER_CONCURRENCY: String(ctx.settings.workerConcurrency), ...env },
          nodeArgs: ctx.promptlineNodeArgs,
        }),
        (p) => p.stop(),
      );
    },
  };
}

/** A Connect client over HTTP/1.1, what browsers and most callers use. */
export function connectClient(baseUrl: string): TaskClient {
  return createClient(TaskService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
}

export interface CreateManyOptions {
  count: number;
  batchSize: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** The prompt of the i-th task. */
  prompt: (i: number) => string;
}

/**
 * Creates `count` tasks through BatchCreateTasks with a bounded number of
 * calls in flight; returns their ids in creation order.
 */
export async function createMany(
  client: TaskClient,
  options: CreateManyOptions,
): Promise<string[]> {
  const batches: number[][] = [];
  for (let start = 0; start < options.count; start += options.batchSize) {
    const end = Math.min(options.count, start + options.batchSize);
    batches.push(Array.from({ length: end - start }, (_, k) => start + k));
  }
  const ids: string[][] = batches.map(() => []);
  await forEachLimit(batches, options.concurrency, async (batch, b) => {
    const { tasks } = await client.batchCreateTasks({
      tasks: batch.map((i) => ({ prompt: options.prompt(i), model: BENCH_MODEL })),
    });
    if (tasks.length !== batch.length) {
      throw new Error(`BatchCreateTasks returned ${tasks.length} tasks for ${batch.length}`);
    }
    ids[b] = tasks.map((t) => t.id);
  });
  return ids.flat();
}

/** Runs `fn` over `items` with at most `limit` calls at a time; the first error stops it. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) {
      const item = items[i];
      if (item !== undefined) await fn(item, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
