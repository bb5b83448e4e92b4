import { type Kysely, type SelectQueryBuilder, sql } from "kysely";
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
  /** The user who created it; unset: the built-in local user (the column's default). */
  ownerId?: string;
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
 * worker that gets nothing back lost the race, or the task is not queued (or
 * waited past its queue TTL); {@link TaskRunner} looks at why.
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
        .where(
          sql<boolean>`(queue_ttl_ms is null or queued_at + queue_ttl_ms * interval '1 millisecond' >= now())`,
        )
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

/** What one attempt measured, whatever its end. */
export interface AttemptMeasures {
  taskId: string;
  attempt: number;
  latencyMs: number;
  ttftMs: number | undefined;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  provider: string | undefined;
}

export interface TaskFailure {
  code: string;
  message: string;
  httpStatus: number | undefined;
}

/**
 * How the attempt ends for the task: its next status and what to store.
 * `queued` (a retry) becomes `cancelled` instead when a cancel was asked
 * for meanwhile, in the same statement, so a cancel never loses to a retry.
 */
export type AttemptEnd =
  | {
      status: "completed";
      output: string;
      totalTokens: number | undefined;
      responseModel: string;
      costUsd: number | undefined;
    }
  | { status: "failed"; error: TaskFailure }
  | { status: "queued"; error: TaskFailure; attemptOutcome: "failed" | "cancelled" }
  | { status: "cancelled"; output: string; error: TaskFailure };

/**
 * Ends the running attempt `measures.attempt` of a task: the task moves on
 * (guarded: only if it is still running that attempt, so a worker that lost
 * its lock cannot overwrite the result of the one that took over) and the
 * attempt row is closed, in one statement.
 */
export async function endAttempt(
  db: Kysely<DB>,
  measures: AttemptMeasures,
  end: AttemptEnd,
): Promise<TaskRow | undefined> {
  const common = {
    latency_ms: measures.latencyMs,
    ttft_ms: measures.ttftMs ?? null,
    provider: measures.provider ?? null,
  };
  const failure = end.status === "completed" ? undefined : end.error;
  const taskSet = (() => {
    switch (end.status) {
      case "completed":
        return {
          ...common,
          status: sql<TaskStatus>`'completed'`,
          completed_at: sql<Date>`now()`,
          output: end.output,
          prompt_tokens: measures.promptTokens ?? null,
          completion_tokens: measures.completionTokens ?? null,
          total_tokens: end.totalTokens ?? null,
          response_model: end.responseModel,
          cost_usd: end.costUsd === undefined ? null : String(end.costUsd),
          error_code: null,
          error_message: null,
          error_http_status: null,
        };
      case "failed":
        return {
          ...common,
          ...errorColumns(end.error),
          status: sql<TaskStatus>`'failed'`,
          completed_at: sql<Date>`now()`,
        };
      case "cancelled":
        return {
          ...common,
          ...errorColumns(end.error),
          status: sql<TaskStatus>`'cancelled'`,
          completed_at: sql<Date>`now()`,
          output: end.output,
          completion_tokens: measures.completionTokens ?? null,
        };
      case "queued":
        return {
          ...common,
          ...errorColumns(end.error),
          status: sql<TaskStatus>`case when cancel_requested_at is null then 'queued'::task_status else 'cancelled'::task_status end`,
          queued_at: sql<Date>`now()`,
          completed_at: sql<Date | null>`case when cancel_requested_at is null then null else now() end`,
        };
    }
  })();
  const attemptOutcome =
    end.status === "completed"
      ? "succeeded"
      : end.status === "queued"
        ? end.attemptOutcome
        : end.status === "cancelled"
          ? "cancelled"
          : "failed";
  return db
    .with("done", (qb) =>
      qb
        .updateTable("tasks")
        .set(taskSet)
        .where("id", "=", measures.taskId)
        .where("status", "=", "running")
        .where("attempts", "=", measures.attempt)
        .returningAll(),
    )
    .with("attempt", (qb) =>
      qb
        .updateTable("task_attempts")
        .set({
          finished_at: sql<Date>`now()`,
          outcome: attemptOutcome,
          latency_ms: measures.latencyMs,
          ttft_ms: measures.ttftMs ?? null,
          prompt_tokens: measures.promptTokens ?? null,
          completion_tokens: measures.completionTokens ?? null,
          error_code: failure?.code ?? null,
          error_message: failure?.message ?? null,
          http_status: failure?.httpStatus ?? null,
        })
        .where("task_id", "=", measures.taskId)
        .where("attempt", "=", measures.attempt)
        .where("outcome", "=", "running")
        .where(({ exists, selectFrom }) => exists(selectFrom("done").select("done.id"))),
    )
    .selectFrom("done")
    .selectAll()
    .executeTakeFirst();
}

function errorColumns(error: TaskFailure) {
  return {
    error_code: error.code,
    error_message: error.message,
    error_http_status: error.httpStatus ?? null,
  };
}

/**
 * A running task whose worker is gone (its job was re-delivered as stalled,
 * or it has no live job at all): the open attempt ends failed with
 * WORKER_LOST and the task goes back to queued, or to failed when that was
 * its last attempt of the series.
 */
export async function releaseLostTask(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  const lost = {
    code: "WORKER_LOST",
    message: "the worker running this attempt stopped (crash, kill or lost lock)",
  };
  return db
    .with("done", (qb) =>
      qb
        .updateTable("tasks")
        .set({
          status: sql<TaskStatus>`case
            when cancel_requested_at is not null then 'cancelled'::task_status
            when attempts - series_start_attempt + 1 >= max_attempts then 'failed'::task_status
            else 'queued'::task_status end`,
          queued_at: sql<Date>`now()`,
          completed_at: sql<Date | null>`case
            when cancel_requested_at is not null or attempts - series_start_attempt + 1 >= max_attempts then now()
            else null end`,
          error_code: lost.code,
          error_message: lost.message,
          error_http_status: null,
        })
        .where("id", "=", id)
        .where("status", "=", "running")
        .returningAll(),
    )
    .with("attempt", (qb) =>
      qb
        .updateTable("task_attempts")
        .set({
          finished_at: sql<Date>`now()`,
          outcome: "failed",
          error_code: lost.code,
          error_message: lost.message,
        })
        .where("task_id", "=", id)
        .where("outcome", "=", "running"),
    )
    .selectFrom("done")
    .selectAll()
    .executeTakeFirst();
}

/** A queued task that waited past its queue TTL ends failed with EXPIRED. */
export async function expireQueuedTask(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  return db
    .updateTable("tasks")
    .set({
      status: "failed",
      completed_at: sql<Date>`now()`,
      error_code: "EXPIRED",
      error_message: sql<string>`'waited in the queue longer than its queue TTL (' || queue_ttl_ms || ' ms)'`,
      error_http_status: null,
    })
    .where("id", "=", id)
    .where("status", "=", "queued")
    .where(sql<boolean>`queued_at + queue_ttl_ms * interval '1 millisecond' < now()`)
    .returningAll()
    .executeTakeFirst();
}

/** pending | queued → cancelled at once. Undefined when the task is in another state. */
export async function cancelWaitingTask(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  return db
    .updateTable("tasks")
    .set({
      status: "cancelled",
      completed_at: sql<Date>`now()`,
      error_code: "CANCELLED",
      error_message: "cancelled before it ran",
      error_http_status: null,
    })
    .where("id", "=", id)
    .where("status", "in", ["pending", "queued"])
    .returningAll()
    .executeTakeFirst();
}

/** Marks a running task's cancel as asked; the worker holding it ends it. */
export async function requestCancel(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  return db
    .updateTable("tasks")
    .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, now())` })
    .where("id", "=", id)
    .where("status", "=", "running")
    .returningAll()
    .executeTakeFirst();
}

/** Tasks the recovery sweep should look at, oldest first. */
export async function findTasksNeedingRecovery(
  db: Kysely<DB>,
  options: {
    pendingOlderThanMs: number;
    queuedOlderThanMs: number;
    runningOlderThanMs: number;
    limit: number;
  },
): Promise<Pick<TaskRow, "id" | "status" | "priority" | "run_at" | "cancel_requested_at">[]> {
  const columns = ["id", "status", "priority", "run_at", "cancel_requested_at"] as const;
  const ago = (ms: number) => sql<Date>`now() - ${ms} * interval '1 millisecond'`;
  return db
    .selectFrom("tasks")
    .select(columns)
    .where((eb) =>
      eb.or([
        // Stored but never enqueued (a crash between commit and enqueue), or due now.
        eb.and([
          eb("status", "=", "pending"),
          eb("created_at", "<", ago(options.pendingOlderThanMs)),
          eb.or([eb("run_at", "is", null), eb("run_at", "<=", sql<Date>`now()`)]),
          // Not waiting on an upstream task that is still on its way.
          sql<boolean>`not exists (
            select 1 from task_chain_edges e join tasks p on p.id = e.parent_id
            where e.child_id = tasks.id and p.status in ('pending', 'queued', 'running'))`,
        ]),
        // Queued long enough that its job may have vanished (Redis lost it), or expired.
        eb.and([
          eb("status", "=", "queued"),
          eb("updated_at", "<", ago(options.queuedOlderThanMs)),
        ]),
        // Running long enough that its worker may be gone.
        eb.and([
          eb("status", "=", "running"),
          eb("updated_at", "<", ago(options.runningOlderThanMs)),
        ]),
      ]),
    )
    .orderBy("updated_at")
    .limit(options.limit)
    .execute();
}

/** The orders a task list can come in; ties go newest first. */
export type TaskSort = "newest" | "oldest" | "priority" | "status";

/**
 * Where the previous page ended: the last row's sort key (its priority or
 * status; empty for the time orders) and its id.
 */
export interface TaskListCursor {
  key: string;
  id: string;
}

export interface TaskListFilter {
  statuses: TaskStatus[];
  model: string | undefined;
  priority: TaskPriority | undefined;
  parentTaskId: string | undefined;
  /** Words searched in name and prompt (web-search syntax). */
  query: string | undefined;
  /** Created at or after this time. */
  createdAfter: Date | undefined;
  /** Created before this time. */
  createdBefore: Date | undefined;
  sort: TaskSort;
  /** Only this user's tasks (a member's view); unset: everyone's. */
  ownerId?: string;
  /** Rows after this one in `sort` order. */
  after: TaskListCursor | undefined;
  limit: number;
}

/** Every filter but the statuses: the part status counts share with the list. */
function whereMatches<O>(
  query: SelectQueryBuilder<DB, "tasks", O>,
  filter: TaskListFilter,
): SelectQueryBuilder<DB, "tasks", O> {
  let q = query;
  if (filter.ownerId !== undefined) q = q.where("owner_id", "=", filter.ownerId);
  if (filter.model !== undefined) q = q.where("model", "=", filter.model);
  if (filter.priority !== undefined) q = q.where("priority", "=", filter.priority);
  if (filter.parentTaskId !== undefined) q = q.where("parent_task_id", "=", filter.parentTaskId);
  if (filter.query !== undefined) {
    q = q.where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${filter.query})`);
  }
  if (filter.createdAfter !== undefined) q = q.where("created_at", ">=", filter.createdAfter);
  if (filter.createdBefore !== undefined) q = q.where("created_at", "<", filter.createdBefore);
  return q;
}

/**
 * Keyset-paginated in `filter.sort` order, ties broken by the time-ordered
 * id (UUIDv7), so a cursor stays right while tasks are added or change.
 * Priority and status order by their enums' declared order.
 */
export async function listTasks(db: Kysely<DB>, filter: TaskListFilter): Promise<TaskRow[]> {
  let query = whereMatches(db.selectFrom("tasks").selectAll(), filter);
  if (filter.statuses.length > 0) query = query.where("status", "in", filter.statuses);
  const after = filter.after;
  switch (filter.sort) {
    case "newest":
      if (after !== undefined) query = query.where("id", "<", after.id);
      return query.orderBy("id", "desc").limit(filter.limit).execute();
    case "oldest":
      if (after !== undefined) query = query.where("id", ">", after.id);
      return query.orderBy("id", "asc").limit(filter.limit).execute();
    case "priority":
      if (after !== undefined) {
        query = query.where(
          sql<boolean>`(priority, id) < (${after.key}::task_priority, ${after.id}::uuid)`,
        );
      }
      return query.orderBy("priority", "desc").orderBy("id", "desc").limit(filter.limit).execute();
    case "status":
      if (after !== undefined) {
        query = query.where(
          sql<boolean>`(status > ${after.key}::task_status or (status = ${after.key}::task_status and id < ${after.id}::uuid))`,
        );
      }
      return query.orderBy("status", "asc").orderBy("id", "desc").limit(filter.limit).execute();
  }
}

/** The cursor that continues a list after `row`. */
export function cursorAfter(row: TaskRow, sort: TaskSort): TaskListCursor {
  const key = sort === "priority" ? row.priority : sort === "status" ? row.status : "";
  return { key, id: row.id };
}

/** How many tasks match the filter (ignoring its statuses), per status; zero counts left out. */
export async function countTasksByStatus(
  db: Kysely<DB>,
  filter: TaskListFilter,
): Promise<Array<{ status: TaskStatus; count: number }>> {
  const rows = await whereMatches(db.selectFrom("tasks"), filter)
    .select(["status", (eb) => eb.fn.countAll<string>().as("count")])
    .groupBy("status")
    .orderBy("status")
    .execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}

/** Which of `ids` match a text search (the same one ListTasks uses). */
export async function idsMatchingQuery(
  db: Kysely<DB>,
  ids: readonly string[],
  query: string,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom("tasks")
    .select("id")
    .where("id", "in", ids)
    .where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${query})`)
    .execute();
  return new Set(rows.map((r) => r.id));
}
