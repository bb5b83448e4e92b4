import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

/** A small queue beside the task queue, same prefix, for periodic jobs. */
export const MAINTENANCE_QUEUE_NAME = "maintenance";

const RETENTION_SCHEDULER_ID = "retention";

export interface MaintenanceOptions {
  redisUrl: string;
  prefix: string;
  /**
   * Undefined turns retention off, and removes a schedule an earlier
   * configuration left in Redis, so unsetting RETENTION_DAYS really stops it.
   */
  retention: { everyMs: number; run: () => Promise<number> } | undefined;
  /** A maintenance job that failed; the next period tries again. */
  onError?: (error: Error) => void;
}

export interface Maintenance {
  close(): Promise<void>;
}

/**
 * Periodic jobs on a BullMQ job scheduler. The scheduler lives in Redis and
 * makes one job per period, which one worker takes, so a job runs once per
 * period however many worker processes start this; upserting the same
 * schedule again (every process does, at start) changes nothing.
 */
export async function startMaintenance(options: MaintenanceOptions): Promise<Maintenance> {
  const producer = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  const queue = new Queue(MAINTENANCE_QUEUE_NAME, {
    connection: producer,
    prefix: options.prefix,
    // A few runs stay visible for whoever inspects the queue.
    defaultJobOptions: { removeOnComplete: { count: 24 }, removeOnFail: { count: 24 } },
  });
  const closeQueue = async () => {
    await queue.close();
    producer.disconnect();
  };

  const retention = options.retention;
  try {
    await queue.waitUntilReady();
    if (retention === undefined) {
      await queue.removeJobScheduler(RETENTION_SCHEDULER_ID);
      await closeQueue();
      return { close: async () => {} };
    }
    await queue.upsertJobScheduler(
      RETENTION_SCHEDULER_ID,
      { every: retention.everyMs },
      { name: RETENTION_SCHEDULER_ID },
    );
  } catch (error) {
    await closeQueue();
    throw error;
  }

  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(
    MAINTENANCE_QUEUE_NAME,
    async (job) => {
      if (job.name !== RETENTION_SCHEDULER_ID) return undefined;
      return { deleted: await retention.run() };
    },
    { connection, prefix: options.prefix, concurrency: 1 },
  );
  const onError = options.onError;
  if (onError !== undefined) {
    worker.on("error", onError);
    worker.on("failed", (_job, error) => onError(error));
  }
  return {
    async close() {
      await worker.close();
      connection.disconnect();
      await closeQueue();
    },
  };
}
