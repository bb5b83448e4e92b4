import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { ABORT_CANCELLED, ABORT_SHUTDOWN, type RunResult } from "../tasks/runner.js";
import type { TaskPriority } from "../tasks/status.js";

/** The one BullMQ queue every task goes through; isolation between deployments/tests is by prefix. */
export const TASK_QUEUE_NAME = "tasks";

/** The pub/sub channel that carries "cancel this running task" to every worker. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:${TASK_QUEUE_NAME}:cancel`;
}

/** BullMQ runs lower numbers first; every job gets one so all share one ordered set. */
const bullPriority: Record<TaskPriority, number> = { critical: 1, high: 2, normal: 3, low: 4 };

export interface EnqueueOptions {
  /** Milliseconds before the job may run; unset or ≤ 0 means now. */
  delayMs?: number;
  /**
   * The task's model, carried in the job's name: a worker asks the model's
   * provider for a permit before it claims, and this spares it reading the
   * task first. Unset, the worker reads it.
   */
  model?: string;
}

/** One job of {@link TaskQueue.enqueueMany}. */
export interface EnqueueJob extends EnqueueOptions {
  taskId: string;
  priority: TaskPriority;
}

const JOB_NAME = "run";

/** `run:<model>`, or `run` when the model is not known; a few dozen bytes either way. */
function jobName(model: string | undefined): string {
  return model === undefined ? JOB_NAME : `${JOB_NAME}:${model}`;
}

/** The model a job's name carries, if any (jobs added before names carried one have none). */
export function modelOfJob(name: string): string | undefined {
  return name.startsWith(`${JOB_NAME}:`) ? name.slice(JOB_NAME.length + 1) : undefined;
}

function jobOptions(job: EnqueueJob) {
  const delay = job.delayMs === undefined ? 0 : Math.max(0, Math.ceil(job.delayMs));
  return {
    jobId: job.taskId,
    priority: bullPriority[job.priority],
    ...(delay > 0 ? { delay } : {}),
  };
}

export interface TaskQueueOptions {
  redisUrl: string;
  /** Namespaces every key, so several Promptlines (or tests) share one Redis. */
  prefix: string;
}

export interface TaskQueueProducerOptions extends TaskQueueOptions {
  /**
   * Set only when tracing is on: the W3C traceparent of the enqueueing span,
   * carried in the job's data (`{tp}`, 55 bytes) so the worker's span joins
   * the trace. Off, jobs keep their empty payload.
   */
  traceparent?: (() => string | undefined) | undefined;
}

/** The job payload: null, or the enqueuing trace's traceparent when tracing is on. */
function jobData(traceparent: string | undefined): { tp: string } | null {
  return traceparent === undefined ? null : { tp: traceparent };
}

/** A job's traceparent, if its data carries one. */
function traceparentOfJob(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null || !("tp" in data)) return undefined;
  return typeof data.tp === "string" ? data.tp : undefined;
}

/**
 * Producer side: puts task ids on the queue. Job id = task id, so enqueueing
 * the same task twice is a no-op; the payload is empty because the task lives
 * in Postgres.
 */
export class TaskQueue {
  readonly #queue: Queue;
  readonly #connection: Redis;
  readonly #prefix: string;
  readonly #traceparent: (() => string | undefined) | undefined;

  constructor(options: TaskQueueProducerOptions) {
    this.#prefix = options.prefix;
    this.#traceparent = options.traceparent;
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

  /** `delayMs` holds the job back that long (a task's future `run_at`); the task stays pending. */
  async enqueue(
    taskId: string,
    priority: TaskPriority,
    options: EnqueueOptions = {},
  ): Promise<void> {
    await this.#queue.add(
      jobName(options.model),
      jobData(this.#traceparent?.()),
      jobOptions({ taskId, priority, ...options }),
    );
  }

  /** Several jobs in one round trip (BullMQ `addBulk`): what a batch create enqueues. */
  async enqueueMany(jobs: readonly EnqueueJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const data = jobData(this.#traceparent?.());
    await this.#queue.addBulk(
      jobs.map((job) => ({ name: jobName(job.model), data, opts: jobOptions(job) })),
    );
  }

  /**
   * Puts a task that ran before back on the queue (RetryTask). Adding a job
   * whose id still exists is a no-op, and a finished task's job can outlive
   * its terminal status for a moment: the worker records the outcome in
   * Postgres before BullMQ removes the job. So a leftover finished or delayed
   * job is removed first, and an active one (its worker just returning) is
   * waited for, up to `settleMs`. False when it was still active then: the
   * task has no job of its own, and the recovery sweep re-enqueues it.
   */
  async requeue(
    taskId: string,
    priority: TaskPriority,
    { model, settleMs = 2_000 }: { model?: string; settleMs?: number } = {},
  ): Promise<boolean> {
    const deadline = Date.now() + settleMs;
    do {
      const state = await this.#queue.getJobState(taskId);
      switch (state) {
        case "unknown":
          await this.enqueue(taskId, priority, { model });
          return true;
        case "completed":
        case "failed":
        case "delayed":
          await this.#queue.remove(taskId);
          break;
        case "active":
          await new Promise((resolve) => setTimeout(resolve, 20));
          break;
        case "waiting":
        case "prioritized":
        case "waiting-children":
          return true;
      }
    } while (Date.now() < deadline);
    return false;
  }

  /** Removes a waiting job; a job a worker holds is not removed (cancellation handles it). */
  async remove(taskId: string): Promise<void> {
    await this.#queue.remove(taskId);
  }

  /** Tells whichever worker holds the task to abort it. */
  async publishCancel(taskId: string): Promise<void> {
    await this.#connection.publish(cancelChannel(this.#prefix), taskId);
  }

  /** The job's state in Redis, or undefined when there is no job for the task. */
  async jobState(taskId: string): Promise<string | undefined> {
    const state = await this.#queue.getJobState(taskId);
    return state === "unknown" ? undefined : state;
  }

  async close(): Promise<void> {
    await this.#queue.close();
    this.#connection.disconnect();
  }
}

export interface TaskWorkerOptions extends TaskQueueOptions {
  concurrency: number;
  /**
   * How long a job's lock lasts without renewal; a worker that dies holds it
   * this long before the job is re-delivered as stalled.
   */
  lockDurationMs: number;
  /**
   * Runs one task (its model when the job carries it); resolves with what
   * became of it, throws only on infrastructure errors.
   */
  run: (
    taskId: string,
    signal: AbortSignal | undefined,
    model: string | undefined,
    /** The enqueuing span's W3C traceparent, when tracing was on there. */
    traceparent: string | undefined,
  ) => Promise<RunResult>;
  onError?: (error: Error) => void;
}

export interface TaskWorker {
  readonly worker: Worker;
  /**
   * Stops taking jobs and lets running tasks finish for up to `graceMs`;
   * then aborts the rest, which go back to the queue. Then drops the connections.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * Consumer side: a BullMQ worker that hands each job's task id to `run`, and
 * listens for cancel broadcasts so a cancel reaches whichever process holds
 * the task.
 */
export function createTaskWorker(options: TaskWorkerOptions): TaskWorker {
  // Workers block on Redis and must retry forever rather than error out.
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(
    TASK_QUEUE_NAME,
    async (job: Job, token?: string, signal?: AbortSignal) => {
      const taskId = job.id;
      if (taskId === undefined) throw new UnrecoverableError("job without id");
      const result = await options.run(
        taskId,
        signal,
        modelOfJob(job.name),
        traceparentOfJob(job.data),
      );
      if (result.retryInMs !== undefined) {
        // Our attempts live in Postgres; hand the job back without BullMQ counting one.
        await job.moveToDelayed(Date.now() + result.retryInMs, token);
        throw new DelayedError();
      }
    },
    {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      // Look for stalled jobs as often as a lock can expire, not BullMQ's fixed 30 s.
      stalledInterval: options.lockDurationMs,
      // Postgres decides when a task has had enough attempts (WORKER_LOST counts as one).
      maxStalledCount: 1_000,
    },
  );
  if (options.onError) worker.on("error", options.onError);

  const subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  subscriber.on("message", (_channel: string, taskId: string) => {
    worker.cancelJob(taskId, ABORT_CANCELLED);
  });
  subscriber.subscribe(cancelChannel(options.prefix)).catch((error: unknown) => {
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
  });

  return {
    worker,
    async close(graceMs: number) {
      const closing = worker.close();
      const deadline = setTimeout(() => worker.cancelAllJobs(ABORT_SHUTDOWN), graceMs);
      try {
        await closing;
      } finally {
        clearTimeout(deadline);
        subscriber.disconnect();
        connection.disconnect();
      }
    },
  };
}
