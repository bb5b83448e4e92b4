import { create } from "@bufbuild/protobuf";
import { type Duration, durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type GetQueueStatsResponse,
  GetQueueStatsResponseSchema,
  type GetTaskMetricsResponse,
  GetTaskMetricsResponseSchema,
  ModelQueueDepthSchema,
  ModelUsageSchema,
  StatusCountSchema,
  TaskMetricsBucketSchema,
  type Worker,
  WorkerSchema,
} from "@promptline/proto";
import type { TaskMetrics } from "../db/stats.js";
import type { WorkerInfo } from "../queue/worker-registry.js";
import type { QueueStats } from "../tasks/operations.js";
import { TASK_STATUSES } from "../tasks/status.js";
import { statusToProtoEnum } from "./convert.js";

/** Percentiles interpolate; whole milliseconds are all a provider latency is measured in. */
const latency = (ms: number | undefined): Duration | undefined =>
  ms === undefined ? undefined : durationFromMs(Math.round(ms));

/** Queue stats as the API shows them: every status in lifecycle order, zeros included. */
export function queueStatsToProto(stats: QueueStats): GetQueueStatsResponse {
  return create(GetQueueStatsResponseSchema, {
    counts: TASK_STATUSES.map((status) =>
      create(StatusCountSchema, {
        status: statusToProtoEnum(status),
        count: BigInt(stats.counts[status]),
      }),
    ),
    models: stats.models.map((m) =>
      create(ModelQueueDepthSchema, {
        model: m.model,
        waiting: BigInt(m.waiting),
        running: BigInt(m.running),
      }),
    ),
    finishedLastMinute: BigInt(stats.finishedLastMinute),
    finishedLastHour: BigInt(stats.finishedLastHour),
    latencyP50: latency(stats.latencyP50Ms),
    latencyP95: latency(stats.latencyP95Ms),
    errorRateLastHour: stats.errorRateLastHour,
    queueWaiting: BigInt(stats.jobs.waiting),
    queueDelayed: BigInt(stats.jobs.delayed),
    queueActive: BigInt(stats.jobs.active),
  });
}

export function workerToProto(worker: WorkerInfo): Worker {
  return create(WorkerSchema, {
    id: worker.id,
    host: worker.host,
    pid: worker.pid,
    concurrency: worker.concurrency,
    active: worker.active,
    processed: BigInt(worker.processed),
    failed: BigInt(worker.failed),
    startedAt: timestampFromDate(worker.startedAt),
    lastSeenAt: timestampFromDate(worker.lastSeenAt),
  });
}

/** Task metrics as the API shows them: every bucket, oldest first. */
export function taskMetricsToProto(
  metrics: TaskMetrics,
  bucketSeconds: number,
): GetTaskMetricsResponse {
  return create(GetTaskMetricsResponseSchema, {
    start: timestampFromDate(metrics.start),
    end: timestampFromDate(metrics.end),
    bucket: durationFromMs(bucketSeconds * 1000),
    buckets: metrics.buckets.map((b) =>
      create(TaskMetricsBucketSchema, {
        start: timestampFromDate(b.start),
        completed: BigInt(b.completed),
        failed: BigInt(b.failed),
        cancelled: BigInt(b.cancelled),
        latencyP50: latency(b.latencyP50Ms),
        latencyP95: latency(b.latencyP95Ms),
        totalTokens: BigInt(b.totalTokens),
        costUsd: b.costUsd,
      }),
    ),
    models: metrics.models.map((m) =>
      create(ModelUsageSchema, {
        model: m.model,
        finished: BigInt(m.finished),
        failed: BigInt(m.failed),
        promptTokens: BigInt(m.promptTokens),
        completionTokens: BigInt(m.completionTokens),
        costUsd: m.costUsd,
      }),
    ),
  });
}
