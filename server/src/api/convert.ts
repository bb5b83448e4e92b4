import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type ChainTotals,
  ChainTotalsSchema,
  type LineageEdge,
  LineageEdgeSchema,
  AttemptOutcome as ProtoOutcome,
  TaskPriority as ProtoPriority,
  TaskStatus as ProtoStatus,
  type Task,
  type TaskAttempt,
  TaskAttemptSchema,
  TaskDependencySchema,
  type TaskError,
  TaskErrorSchema,
  type TaskEvent,
  TaskEventSchema,
  type TaskParams,
  TaskParamsSchema,
  TaskSchema,
  TokenUsageSchema,
} from "@promptline/proto";
import type { DependencyRow, LineageEdgeRow } from "../db/graph.js";
import type { AttemptOutcome, TaskAttemptRow, TaskEventRow } from "../db/schema.js";
import type { TaskParamsJson, TaskRow } from "../db/tasks.js";
import type { TaskPriority, TaskStatus } from "../tasks/status.js";

/** Domain ⇄ proto enums: one table each, both directions derived from it. */
const statusToProto: Record<TaskStatus, ProtoStatus> = {
  pending: ProtoStatus.PENDING,
  queued: ProtoStatus.QUEUED,
  running: ProtoStatus.RUNNING,
  completed: ProtoStatus.COMPLETED,
  failed: ProtoStatus.FAILED,
  cancelled: ProtoStatus.CANCELLED,
};

const outcomeToProto: Record<AttemptOutcome, ProtoOutcome> = {
  running: ProtoOutcome.RUNNING,
  succeeded: ProtoOutcome.SUCCEEDED,
  failed: ProtoOutcome.FAILED,
  cancelled: ProtoOutcome.CANCELLED,
};

const priorityToProto: Record<TaskPriority, ProtoPriority> = {
  low: ProtoPriority.LOW,
  normal: ProtoPriority.NORMAL,
  high: ProtoPriority.HIGH,
  critical: ProtoPriority.CRITICAL,
};

function invert<K extends string, V extends number>(table: Record<K, V>): Map<V, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as V, k as K]));
}

const statusFromProtoMap = invert(statusToProto);
const priorityFromProtoMap = invert(priorityToProto);

/** Undefined for UNSPECIFIED or a number this server does not know. */
export function statusFromProto(status: ProtoStatus): TaskStatus | undefined {
  return statusFromProtoMap.get(status);
}

/** Undefined for a number this server does not know; UNSPECIFIED means normal. */
export function priorityFromProto(priority: ProtoPriority): TaskPriority | undefined {
  return priority === ProtoPriority.UNSPECIFIED ? "normal" : priorityFromProtoMap.get(priority);
}

export function priorityToProtoEnum(priority: TaskPriority): ProtoPriority {
  return priorityToProto[priority];
}

export function statusToProtoEnum(status: TaskStatus): ProtoStatus {
  return statusToProto[status];
}

const timestamp = (d: Date | null) => (d === null ? undefined : timestampFromDate(d));
const duration = (ms: number | null) => (ms === null ? undefined : durationFromMs(ms));

/** Stored sampling parameters (a task's or a template's) as the API shows them. */
export function paramsToProto(params: TaskParamsJson): TaskParams {
  return create(TaskParamsSchema, {
    temperature: params.temperature,
    topP: params.top_p,
    maxTokens: params.max_tokens,
    seed: params.seed === undefined ? undefined : BigInt(params.seed),
    stop: params.stop ?? [],
  });
}

/** A stored task as the API shows it, `depends_on` left empty (see {@link taskWithDependenciesToProto}). */
export function taskToProto(row: TaskRow): Task {
  return create(TaskSchema, {
    id: row.id,
    name: row.name,
    prompt: row.prompt,
    systemPrompt: row.system_prompt,
    model: row.model,
    params: paramsToProto(row.params as TaskParamsJson),
    priority: priorityToProto[row.priority],
    status: statusToProto[row.status],
    output: row.output,
    error:
      row.error_code === null
        ? undefined
        : create(TaskErrorSchema, {
            code: row.error_code,
            message: row.error_message ?? "",
            httpStatus: row.error_http_status ?? 0,
          }),
    parentTaskId: row.parent_task_id ?? undefined,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    usage:
      row.total_tokens === null && row.prompt_tokens === null
        ? undefined
        : create(TokenUsageSchema, {
            promptTokens: row.prompt_tokens ?? 0,
            completionTokens: row.completion_tokens ?? 0,
            totalTokens:
              row.total_tokens ?? (row.prompt_tokens ?? 0) + (row.completion_tokens ?? 0),
          }),
    latency: duration(row.latency_ms),
    timeToFirstToken: duration(row.ttft_ms),
    createdAt: timestamp(row.created_at),
    queuedAt: timestamp(row.queued_at),
    startedAt: timestamp(row.started_at),
    completedAt: timestamp(row.completed_at),
    updatedAt: timestamp(row.updated_at),
    requestId: row.request_id ?? "",
    provider: row.provider ?? "",
    responseModel: row.response_model ?? "",
    costUsd: row.cost_usd === null ? 0 : Number(row.cost_usd),
    metadata: row.metadata as Record<string, string>,
    timeout: duration(row.timeout_ms),
    queueTtl: duration(row.queue_ttl_ms),
    runAt: timestamp(row.run_at),
    idempotencyKey: row.idempotency_key ?? "",
    cancelRequestedAt: timestamp(row.cancel_requested_at),
    chainId: row.chain_id ?? "",
    vars: row.vars,
    renderedPrompt: row.rendered_prompt ?? "",
  });
}

/**
 * A stored task with its `depends_on` filled: for the responses where the
 * dependencies are cheap to read (see the field in task.proto).
 */
export function taskWithDependenciesToProto(
  row: TaskRow,
  dependencies: readonly DependencyRow[] = [],
): Task {
  const task = taskToProto(row);
  task.dependsOn = dependencies.map((d) =>
    create(TaskDependencySchema, {
      target: { case: "taskId", value: d.parent_id },
      name: d.name ?? "",
    }),
  );
  return task;
}

function taskError(
  code: string | null | undefined,
  message: string | null | undefined,
  httpStatus: number | null | undefined,
): TaskError | undefined {
  if (code === null || code === undefined) return undefined;
  return create(TaskErrorSchema, { code, message: message ?? "", httpStatus: httpStatus ?? 0 });
}

/** One attempt of a task's history. */
export function attemptToProto(row: TaskAttemptRow): TaskAttempt {
  return create(TaskAttemptSchema, {
    attempt: row.attempt,
    workerId: row.worker_id ?? "",
    startedAt: timestamp(row.started_at),
    finishedAt: timestamp(row.finished_at),
    outcome: outcomeToProto[row.outcome],
    error: taskError(row.error_code, row.error_message, row.http_status),
    latency: duration(row.latency_ms),
    timeToFirstToken: duration(row.ttft_ms),
    usage:
      row.prompt_tokens === null && row.completion_tokens === null
        ? undefined
        : create(TokenUsageSchema, {
            promptTokens: row.prompt_tokens ?? 0,
            completionTokens: row.completion_tokens ?? 0,
            totalTokens: (row.prompt_tokens ?? 0) + (row.completion_tokens ?? 0),
          }),
  });
}

/** One status change of a task's history; attempt and error come from the event's data. */
export function eventToProto(row: TaskEventRow): TaskEvent {
  return create(TaskEventSchema, {
    seq: row.seq,
    type: row.type,
    fromStatus: row.from_status === null ? ProtoStatus.UNSPECIFIED : statusToProto[row.from_status],
    toStatus: statusToProto[row.to_status],
    at: timestamp(row.at),
    attempt: row.data.attempt ?? 0,
    error: taskError(row.data.error_code, row.data.error_message, undefined),
  });
}

/** An edge of a task's lineage as the API shows it. */
export function lineageEdgeToProto(edge: LineageEdgeRow): LineageEdge {
  return create(LineageEdgeSchema, {
    parentId: edge.parent_id,
    childId: edge.child_id,
    kind: edge.kind,
    name: edge.name ?? "",
    depth: edge.depth,
  });
}

/** Totals over a chain's tasks: counts, tokens, cost, and wall time from first creation to last completion. */
export function chainTotalsToProto(chain: readonly TaskRow[]): ChainTotals {
  const counts = new Map<TaskStatus, number>();
  let promptTokens = 0;
  let completionTokens = 0;
  let cost = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let unfinished = false;
  for (const row of chain) {
    counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
    promptTokens += row.prompt_tokens ?? 0;
    completionTokens += row.completion_tokens ?? 0;
    cost += row.cost_usd === null ? 0 : Number(row.cost_usd);
    first = Math.min(first, row.created_at.getTime());
    if (row.completed_at === null) unfinished = true;
    else last = Math.max(last, row.completed_at.getTime());
  }
  const end = unfinished ? Date.now() : last;
  return create(ChainTotalsSchema, {
    tasks: chain.length,
    counts: [...counts].map(([status, count]) => ({
      status: statusToProto[status],
      count: BigInt(count),
    })),
    promptTokens: BigInt(promptTokens),
    completionTokens: BigInt(completionTokens),
    costUsd: cost,
    wallTime: chain.length === 0 ? undefined : durationFromMs(Math.max(0, end - first)),
  });
}
