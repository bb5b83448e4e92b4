import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { TASK_QUEUE_NAME } from "./task-queue.js";
import { listWorkers, type WorkerInfo } from "./worker-registry.js";

/** Jobs of the task queue in Redis, by state. */
export interface QueueJobCounts {
  /** Ready to run: BullMQ's `wait` and `prioritized` (every task job has a priority). */
  waiting: number;
  /** Waiting for a time: backoff before a retry. */
  delayed: number;
  /** Held by a worker. */
  active: number;
}

/** Counts a queue's jobs in one round trip. */
export async function readJobCounts(queue: Queue): Promise<QueueJobCounts> {
  const counts = await queue.getJobCounts("waiting", "prioritized", "delayed", "active");
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    delayed: counts.delayed ?? 0,
    active: counts.active ?? 0,
  };
}

export interface QueueInspectorOptions {
  redisUrl: string;
  prefix: string;
}

/**
 * What an API process reads from Redis for operators: the task queue's job
 * counts and the worker registry. Read-only; it never writes the queue's
 * metadata, so it cannot disturb producers or workers.
 */
export class QueueInspector {
  readonly #connection: Redis;
  readonly #queue: Queue;
  readonly #prefix: string;

  constructor(options: QueueInspectorOptions) {
    this.#prefix = options.prefix;
    // Like a producer: fail fast while Redis is away, so the caller gets Unavailable.
    this.#connection = new Redis(options.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    this.#queue = new Queue(TASK_QUEUE_NAME, {
      connection: this.#connection,
      prefix: options.prefix,
      skipMetasUpdate: true,
    });
  }

  /** Resolves once Redis answers (commands fail fast before that). */
  async ready(): Promise<void> {
    await this.#queue.waitUntilReady();
  }

  jobCounts(): Promise<QueueJobCounts> {
    return readJobCounts(this.#queue);
  }

  workers(): Promise<WorkerInfo[]> {
    return listWorkers(this.#connection, this.#prefix);
  }

  async close(): Promise<void> {
    await this.#queue.close();
    this.#connection.disconnect();
  }
}
