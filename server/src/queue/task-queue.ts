import { type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { TaskPriority } from "../tasks/status.js";

/** The one BullMQ queue every task goes through; isolation between deployments/tests is by prefix. */
export const TASK_QUEUE_NAME = "tasks";

/** BullMQ runs lower numbers first; every job gets one so all share one ordered set. */
const bullPriority: Record<TaskPriority, number> = { critical: 1, high: 2, normal: 3, low: 4 };

export interface TaskQueueOptions {
  redisUrl: string;
  /** Namespaces every key, so several Promptlines (or tests) share one Redis. */
  prefix: string;
}

/**
 * Producer side: puts task ids on the queue. Job id = task id, so enqueueing
 * the same task twice is a no-op; the payload is empty because the task lives
 * in Postgres.
 */
export class TaskQueue {
  readonly #queue: Queue;
  readonly #connection: Redis;

  constructor(options: TaskQueueOptions) {
    // Producers fail fast instead of buffering commands while Redis is away.
    this.#connection = new Redis(options.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    this.#queue = new Queue(TASK_QUEUE_NAME, {
      connection: this.#connection,
      prefix: options.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
  }

  /** Resolves once Redis answers; producers with no offline queue need a live connection. */
  async ready(): Promise<void> {
    await this.#queue.waitUntilReady();
  }

  async enqueue(taskId: string, priority: TaskPriority): Promise<void> {
    await this.#queue.add("run", null, { jobId: taskId, priority: bullPriority[priority] });
  }

  /** Removes a waiting job; a job a worker holds is not removed (cancellation handles it). */
  async remove(taskId: string): Promise<void> {
    await this.#queue.remove(taskId);
  }

  async close(): Promise<void> {
    await this.#queue.close();
    this.#connection.disconnect();
  }
}

export interface TaskWorkerOptions extends TaskQueueOptions {
  concurrency: number;
  /** Runs one task; resolves when the task reached a state, throws only on infrastructure errors. */
  run: (taskId: string, signal: AbortSignal | undefined) => Promise<void>;
  onError?: (error: Error) => void;
}

export interface TaskWorker {
  readonly worker: Worker;
  /** Stops taking jobs, waits for running ones, then drops the connection. */
  close(): Promise<void>;
}

/** Consumer side: a BullMQ worker that hands each job's task id to `run`. */
export function createTaskWorker(options: TaskWorkerOptions): TaskWorker {
  // Workers block on Redis and must retry forever rather than error out.
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(
    TASK_QUEUE_NAME,
    async (job: Job, _token?: string, signal?: AbortSignal) => {
      const taskId = job.id;
      if (taskId === undefined) throw new UnrecoverableError("job without id");
      await options.run(taskId, signal);
    },
    { connection, prefix: options.prefix, concurrency: options.concurrency },
  );
  if (options.onError) worker.on("error", options.onError);
  return {
    worker,
    async close() {
      await worker.close();
      connection.disconnect();
    },
  };
}
