import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import type { DB, TaskRow } from "../db/schema.js";
import { expireQueuedTask, findTasksNeedingRecovery, releaseLostTask } from "../db/tasks.js";
import type { TaskNotifier } from "../events/publisher.js";
import type { TaskQueue } from "../queue/task-queue.js";
import type { TaskGraph } from "./graph.js";

export interface RecoveryOptions {
  intervalMs: number;
  /** A dead worker's lock lasts this long; running tasks younger than it are left alone. */
  workerLockMs: number;
  /** Tasks looked at per sweep; the rest wait for the next one. */
  batchSize?: number;
}

export interface SweepResult {
  enqueued: number;
  released: number;
  expired: number;
  cancelsResent: number;
}

// Any constant works; it only has to be the same in every process.
const SWEEP_LOCK_KEY = 0x70726f6d; // "prom"

/**
 * Finds tasks a crash left behind and moves them on: pending tasks whose
 * enqueue never happened, queued tasks whose job vanished or expired, and
 * running tasks whose worker is gone. Every process runs it; an advisory
 * lock lets one act at a time. Every step is a guarded update, so racing a
 * live worker is harmless.
 */
export class RecoverySweep {
  readonly #db: Kysely<DB>;
  readonly #queue: TaskQueue;
  readonly #notifier: TaskNotifier;
  readonly #graph: TaskGraph;
  readonly #log: Logger;
  readonly #options: Required<RecoveryOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(deps: {
    db: Kysely<DB>;
    queue: TaskQueue;
    notifier: TaskNotifier;
    graph: TaskGraph;
    log: Logger;
    options: RecoveryOptions;
  }) {
    this.#graph = deps.graph;
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#notifier = deps.notifier;
    this.#log = deps.log;
    this.#options = { batchSize: 500, ...deps.options };
  }

  start(): void {
    const tick = () => {
      this.#running = this.sweepOnce()
        .catch((err: unknown) => this.#log.warn({ err }, "recovery sweep failed; will retry"))
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#options.intervalMs);
        });
    };
    this.#timer = setTimeout(tick, this.#options.intervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async sweepOnce(): Promise<SweepResult> {
    const result: SweepResult = { enqueued: 0, released: 0, expired: 0, cancelsResent: 0 };
    // Published after the commit, so a watcher that re-reads sees the change.
    const changed: TaskRow[] = [];
    const pending: string[] = [];
    const { intervalMs, workerLockMs, batchSize } = this.#options;
    await this.#db.transaction().execute(async (trx) => {
      const { rows } = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) as locked`.execute(trx);
      if (rows[0]?.locked !== true) return;
      const candidates = await findTasksNeedingRecovery(trx, {
        pendingOlderThanMs: 2 * intervalMs,
        queuedOlderThanMs: 6 * intervalMs,
        runningOlderThanMs: workerLockMs + intervalMs,
        limit: batchSize,
      });
      for (const task of candidates) {
        if (task.status === "pending") {
          pending.push(task.id);
        } else if (task.status === "queued") {
          const expired = await expireQueuedTask(trx, task.id);
          if (expired !== undefined) {
            changed.push(expired);
            await this.#queue.remove(task.id);
            result.expired++;
          } else if ((await this.#queue.jobState(task.id)) === undefined) {
            await this.#queue.enqueue(task.id, task.priority, { model: task.model });
            result.enqueued++;
          }
        } else if (task.status === "running") {
          const state = await this.#queue.jobState(task.id);
          if (state === "active") {
            if (task.cancel_requested_at !== null) {
              await this.#queue.publishCancel(task.id);
              result.cancelsResent++;
            }
            continue;
          }
          const released = await releaseLostTask(trx, task.id);
          if (released !== undefined) {
            changed.push(released);
            result.released++;
            if (released.status === "queued")
              await this.#queue.enqueue(task.id, task.priority, { model: task.model });
          }
        }
      }
    });
    this.#notifier.changed(changed);
    await this.#graph.finished(changed);
    // Pending tasks left behind: enqueued if every upstream completed (one
    // never enqueued after a crash, or one whose last upstream's dispatch was
    // lost), cancelled if one failed.
    await this.#graph.cancelBlocked(pending);
    result.enqueued += (await this.#graph.dispatch(pending)).length;
    if (result.enqueued + result.released + result.expired + result.cancelsResent > 0) {
      this.#log.info(result, "recovery sweep moved tasks on");
    }
    return result;
  }
}
