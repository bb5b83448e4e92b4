import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { deleteCompletedBatch } from "../db/retention.js";
import type { DB } from "../db/schema.js";

/** How old, in days, a completed task may be asked to get before it goes: the config and the API share it. */
export const RETENTION_DAYS = { min: 1, max: 3650 } as const;

/** How often the scheduled retention job runs (when RETENTION_DAYS is set). */
export const RETENTION_EVERY_MS = 60 * 60 * 1000;

const DEFAULT_BATCH_SIZE = 1_000;

export interface RetentionOptions {
  db: Kysely<DB>;
  log: Logger;
  /** Rows per DELETE statement; 1,000 when unset. */
  batchSize?: number;
}

/**
 * Deletes completed tasks older than a number of days. Only `completed`:
 * failed and cancelled tasks stay, since someone may still retry or inspect
 * them. Runs in batches, each its own short transaction, so a large backlog
 * never holds a long lock; stopping halfway loses nothing.
 */
export class Retention {
  readonly #db: Kysely<DB>;
  readonly #log: Logger;
  readonly #batchSize: number;

  constructor(options: RetentionOptions) {
    this.#db = options.db;
    this.#log = options.log;
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  /** Returns how many tasks were deleted. */
  async run(olderThanDays: number): Promise<number> {
    if (
      !Number.isInteger(olderThanDays) ||
      olderThanDays < RETENTION_DAYS.min ||
      olderThanDays > RETENTION_DAYS.max
    ) {
      throw new RangeError(
        `olderThanDays must be a whole number from ${RETENTION_DAYS.min} to ${RETENTION_DAYS.max}, not ${olderThanDays}`,
      );
    }
    const started = performance.now();
    let deleted = 0;
    for (;;) {
      const batch = await deleteCompletedBatch(this.#db, { olderThanDays, limit: this.#batchSize });
      deleted += batch;
      if (batch < this.#batchSize) break;
    }
    this.#log.info(
      { olderThanDays, deleted, ms: Math.round(performance.now() - started) },
      "retention: deleted completed tasks",
    );
    return deleted;
  }
}
