import { type Kysely, type SelectQueryBuilder, sql } from "kysely";
import type { TaskPriority, TaskStatus } from "../tasks/status.js";
import { precompiled } from "./precompiled.js";
import { type DB, TASK_COLUMNS, type TaskRow } from "./schema.js";

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

const findTaskStatement = precompiled(["id"], (db: Kysely<DB>, p: { id: string }) =>
  db.selectFrom("tasks").select(TASK_COLUMNS).where("id", "=", p.id),
);

export async function findTask(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  const [row] = await findTaskStatement(db, { id });
  return row;
}

export async function taskExists(db: Kysely<DB>, id: string): Promise<boolean> {
  const row = await db.selectFrom("tasks").select("id").where("id", "=", id).executeTakeFirst();
  return row !== undefined;
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
        .returning(TASK_COLUMNS),
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
    .select(TASK_COLUMNS)
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
    .returning(TASK_COLUMNS)
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
    .returning(TASK_COLUMNS)
    .executeTakeFirst();
}

/** Marks a running task's cancel as asked; the worker holding it ends it. */
export async function requestCancel(db: Kysely<DB>, id: string): Promise<TaskRow | undefined> {
  return db
    .updateTable("tasks")
    .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, now())` })
    .where("id", "=", id)
    .where("status", "=", "running")
    .returning(TASK_COLUMNS)
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
): Promise<
  Pick<TaskRow, "id" | "status" | "priority" | "model" | "run_at" | "cancel_requested_at">[]
> {
  // The model goes into the job name, so a re-enqueued job needs no read to route it.
  const columns = ["id", "status", "priority", "model", "run_at", "cancel_requested_at"] as const;
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
  /** Tasks of this chain (chain_id: parent links only). */
  chainId?: string | undefined;
  /** Words searched in name and prompt (web-search syntax). */
  query: string | undefined;
  /** Metadata pairs a task must all have. */
  metadata: Record<string, string> | undefined;
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

/**
 * The task's name or prompt has the words of `query` (web-search syntax).
 * Their tsvector is in task_search, one row per task (0005_task_search).
 */
function matchesText(query: string) {
  return sql<boolean>`exists (
    select from task_search s
    where s.task_id = tasks.id and s.search @@ websearch_to_tsquery('simple', ${query})
  )`;
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
  if (filter.chainId !== undefined) q = q.where("chain_id", "=", filter.chainId);
  if (filter.query !== undefined) {
    q = q.where(matchesText(filter.query));
  }
  if (filter.metadata !== undefined) {
    q = q.where(sql<boolean>`metadata @> ${JSON.stringify(filter.metadata)}::jsonb`);
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
  let query = whereMatches(db.selectFrom("tasks").select(TASK_COLUMNS), filter);
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
    .selectFrom("task_search")
    .select("task_id")
    .where("task_id", "in", ids)
    .where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${query})`)
    .execute();
  return new Set(rows.map((r) => r.task_id));
}
