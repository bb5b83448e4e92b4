import type { Kysely } from "kysely";
import type { DB } from "../db/schema.js";
import {
  type MetricsRange,
  readTaskMetrics,
  readTaskStats,
  type TaskMetrics,
  type TaskStats,
} from "../db/stats.js";
import type { QueueJobCounts } from "../queue/queue-stats.js";
import type { WorkerInfo } from "../queue/worker-registry.js";
import type { Retention } from "./retention.js";

/** What operators see of the queue: the database's view and Redis's, side by side. */
export interface QueueStats extends TaskStats {
  /** Failed ÷ finished over the last hour; 0 when nothing finished. */
  errorRateLastHour: number;
  jobs: QueueJobCounts;
}

/** The Redis side, read from any API process (a `QueueInspector`). */
export interface QueueView {
  jobCounts(): Promise<QueueJobCounts>;
  workers(): Promise<WorkerInfo[]>;
}

export interface OperationsDeps {
  db: Kysely<DB>;
  queue: QueueView;
  retention: Retention;
}

/** Queue stats, the worker list and retention: the service behind the operator endpoints. */
export class Operations {
  readonly #db: Kysely<DB>;
  readonly #queue: QueueView;
  readonly #retention: Retention;

  constructor(deps: OperationsDeps) {
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#retention = deps.retention;
  }

  async queueStats(): Promise<QueueStats> {
    const [tasks, jobs] = await Promise.all([readTaskStats(this.#db), this.#queue.jobCounts()]);
    return {
      ...tasks,
      errorRateLastHour:
        tasks.finishedLastHour === 0 ? 0 : tasks.failedLastHour / tasks.finishedLastHour,
      jobs,
    };
  }

  /** Finished tasks over time and by model, for the dashboard. */
  taskMetrics(range: MetricsRange): Promise<TaskMetrics> {
    return readTaskMetrics(this.#db, range);
  }

  workers(): Promise<WorkerInfo[]> {
    return this.#queue.workers();
  }

  /** Deletes completed tasks older than `olderThanDays` now; returns how many. */
  runRetention(olderThanDays: number): Promise<number> {
    return this.#retention.run(olderThanDays);
  }
}
