import { type Kysely, type QueryCreator, sql } from "kysely";
import type { TaskPriority, TaskStatus } from "../tasks/status.js";
import type { DB, TaskRow } from "./schema.js";

export type { TaskRow };

/** Sampling parameters exactly as sent to an OpenAI-compatible API: only what the caller set. */
export interface TaskParamsJson {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string[];
}

export interface NewTask {
  id: string;
  name: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  params: TaskParamsJson;
  priority: TaskPriority;
  parentTaskId: string | undefined;
  metadata: Record<string, string>;
  requestId: string;
  maxAttempts: number;
}

/** Stores a new task as `pending`; the trigger writes its `created` event. */
export async function insertTask(db: Kysely<DB>, task: NewTask): Promise<TaskRow> {
  return db
    .insertInto("tasks")
    .values({
      id: task.id,
      name: task.name,
      prompt: task.prompt,
      system_prompt: task.systemPrompt,
      model: task.model,
      params: JSON.stringify(task.params),
      priority: task.priority,
      parent_task_id: task.parentTaskId ?? null,
      metadata: JSON.stringify(task.metadata),
      request_id: task.requestId,
      max_attempts: task.maxAttempts,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findTask(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  return db.selectFrom("tasks").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function taskExists(db: Kysely<DB>, id: string): Promise<boolean> {
  const row = await db.selectFrom("tasks").select("id").where("id", "=", id).executeTakeFirst();
  return row !== undefined;
}

/** pending → queued, only if still pending (a dispatcher may have been first). */
export async function markQueued(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  return db
    .updateTable("tasks")
    .set({ status: "queued", queued_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("status", "=", "pending")
    .returningAll()
    .executeTakeFirst();
}

/**
 * The claim: queued → running and a new attempt row, in one statement. A
 * worker that gets nothing back lost the race (or the task was cancelled)
 * and drops the job.
 */
export async function claimTask(
  db: Kysely<DB>,
  id: string,
  workerId: string,
): Promise<TaskRow | undefined> {
  return db
    .with("claimed", (qb) =>
      qb
        .updateTable("tasks")
        .set((eb) => ({
          status: "running",
          started_at: sql<Date>`now()`,
          attempts: eb("attempts", "+", 1),
        }))
        .where("id", "=", id)
        .where("status", "=", "queued")
        .returningAll(),
    )
    .with("attempt", (qb) =>
      qb
        .insertInto("task_attempts")
        .columns(["task_id", "attempt", "worker_id"])
        .expression((eb) =>
          eb
            .selectFrom("claimed")
            .select([
              "claimed.id",
              "claimed.attempts",
              sql<string>`${workerId}::text`.as("worker_id"),
            ]),
        ),
    )
    .selectFrom("claimed")
    .selectAll()
    .executeTakeFirst();
}

export interface AttemptResult {
  taskId: string;
  attempt: number;
  latencyMs: number;
  ttftMs: number | undefined;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
}

export interface CompletedAttempt extends AttemptResult {
  output: string;
  totalTokens: number | undefined;
  provider: string;
  responseModel: string;
  costUsd: number | undefined;
}

/** running → completed with the output, for the attempt that holds the task. */
export async function completeTask(
  db: Kysely<DB>,
  result: CompletedAttempt,
): Promise<TaskRow | undefined> {
  return db
    .with("done", (qb) =>
      qb
        .updateTable("tasks")
        .set({
          status: "completed",
          completed_at: sql<Date>`now()`,
          output: result.output,
          prompt_tokens: result.promptTokens ?? null,
          completion_tokens: result.completionTokens ?? null,
          total_tokens: result.totalTokens ?? null,
          latency_ms: result.latencyMs,
          ttft_ms: result.ttftMs ?? null,
          provider: result.provider,
          response_model: result.responseModel,
          cost_usd: result.costUsd === undefined ? null : String(result.costUsd),
          error_code: null,
          error_message: null,
          error_http_status: null,
        })
        .where("id", "=", result.taskId)
        .where("status", "=", "running")
        .where("attempts", "=", result.attempt)
        .returningAll(),
    )
    .with("attempt", (qb) => finishAttempt(qb, result, "succeeded", undefined))
    .selectFrom("done")
    .selectAll()
    .executeTakeFirst();
}

export interface TaskFailure {
  code: string;
  message: string;
  httpStatus: number | undefined;
}

/** running → failed with a precise error, for the attempt that holds the task. */
export async function failTask(
  db: Kysely<DB>,
  result: AttemptResult & { provider: string | undefined },
  failure: TaskFailure,
): Promise<TaskRow | undefined> {
  return db
    .with("done", (qb) =>
      qb
        .updateTable("tasks")
        .set({
          status: "failed",
          completed_at: sql<Date>`now()`,
          error_code: failure.code,
          error_message: failure.message,
          error_http_status: failure.httpStatus ?? null,
          latency_ms: result.latencyMs,
          ttft_ms: result.ttftMs ?? null,
          provider: result.provider ?? null,
        })
        .where("id", "=", result.taskId)
        .where("status", "=", "running")
        .where("attempts", "=", result.attempt)
        .returningAll(),
    )
    .with("attempt", (qb) => finishAttempt(qb, result, "failed", failure))
    .selectFrom("done")
    .selectAll()
    .executeTakeFirst();
}

function finishAttempt(
  qb: QueryCreator<DB>,
  result: AttemptResult,
  outcome: "succeeded" | "failed",
  failure: TaskFailure | undefined,
) {
  return qb
    .updateTable("task_attempts")
    .set({
      finished_at: sql<Date>`now()`,
      outcome,
      latency_ms: result.latencyMs,
      ttft_ms: result.ttftMs ?? null,
      prompt_tokens: result.promptTokens ?? null,
      completion_tokens: result.completionTokens ?? null,
      error_code: failure?.code ?? null,
      error_message: failure?.message ?? null,
      http_status: failure?.httpStatus ?? null,
    })
    .where("task_id", "=", result.taskId)
    .where("attempt", "=", result.attempt)
    .where("outcome", "=", "running");
}

export interface TaskListFilter {
  statuses: TaskStatus[];
  model: string | undefined;
  priority: TaskPriority | undefined;
  parentTaskId: string | undefined;
  /** Words searched in name and prompt (web-search syntax). */
  query: string | undefined;
  /** Return tasks older than this id (ids are UUIDv7, so they sort by creation). */
  beforeId: string | undefined;
  limit: number;
}

/** Newest first, keyset-paginated on the time-ordered id. */
export async function listTasks(db: Kysely<DB>, filter: TaskListFilter): Promise<TaskRow[]> {
  let query = db.selectFrom("tasks").selectAll();
  if (filter.statuses.length > 0) query = query.where("status", "in", filter.statuses);
  if (filter.model !== undefined) query = query.where("model", "=", filter.model);
  if (filter.priority !== undefined) query = query.where("priority", "=", filter.priority);
  if (filter.parentTaskId !== undefined) {
    query = query.where("parent_task_id", "=", filter.parentTaskId);
  }
  if (filter.query !== undefined) {
    query = query.where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${filter.query})`);
  }
  if (filter.beforeId !== undefined) query = query.where("id", "<", filter.beforeId);
  return query.orderBy("id", "desc").limit(filter.limit).execute();
}
