import { type Kysely, sql } from "kysely";
import type { TaskStatus } from "../tasks/status.js";
import { LOCAL_USER_ID } from "./auth.js";
import type { DB, TaskAttemptRow, TaskEventRow, TaskRow } from "./schema.js";
import type { NewTask } from "./tasks.js";

/** A task to store, with the create request's scheduling and idempotency fields. */
export interface NewTaskRecord extends NewTask {
  timeoutMs: number | undefined;
  queueTtlMs: number | undefined;
  runAt: Date | undefined;
  /** Set together with `requestHash`: the key the task answers to on a replay. */
  idempotencyKey: string | undefined;
  requestHash: string | undefined;
  vars: Record<string, string>;
  /** Upstream tasks to wait for, besides the parent. */
  dependsOn: Array<{ taskId: string; name: string | undefined }>;
}

/**
 * Stores tasks as `pending` in one statement (the trigger writes each one's
 * `created` event). A row whose idempotency key is taken is skipped, not an
 * error: a concurrent insert with the same key waits for the other
 * transaction and then does nothing, so the caller reads the winner instead.
 * Returns only the rows stored, in no promised order.
 */
export async function insertTasks(
  db: Kysely<DB>,
  tasks: readonly NewTaskRecord[],
): Promise<TaskRow[]> {
  if (tasks.length === 0) return [];
  return db
    .insertInto("tasks")
    .values(
      tasks.map((task) => ({
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
        timeout_ms: task.timeoutMs ?? null,
        queue_ttl_ms: task.queueTtlMs ?? null,
        run_at: task.runAt ?? null,
        idempotency_key: task.idempotencyKey ?? null,
        request_hash: task.requestHash ?? null,
        vars: JSON.stringify(task.vars),
        owner_id: task.ownerId,
      })),
    )
    .onConflict((oc) => oc.constraint("tasks_idempotency_key_key").doNothing())
    .returningAll()
    .execute();
}

/** Keys belong to their owner (unset: the local user): another user's key is not found. */
export async function findTasksByIdempotencyKey(
  db: Kysely<DB>,
  keys: readonly string[],
  ownerId: string | undefined,
): Promise<TaskRow[]> {
  if (keys.length === 0) return [];
  return db
    .selectFrom("tasks")
    .selectAll()
    .where("idempotency_key", "in", keys)
    .where("owner_id", "=", ownerId ?? LOCAL_USER_ID)
    .execute();
}

export async function findTasksById(db: Kysely<DB>, ids: readonly string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("tasks").selectAll().where("id", "in", ids).execute();
}

/** Which of `ids` are stored tasks. */
export async function existingTaskIds(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom("tasks").select("id").where("id", "in", ids).execute();
  return new Set(rows.map((r) => r.id));
}

/** pending → queued for each of `ids` still pending, in one statement; returns those it moved. */
export async function markManyQueued(db: Kysely<DB>, ids: readonly string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return db
    .updateTable("tasks")
    .set({ status: "queued", queued_at: sql<Date>`now()` })
    .where("id", "in", ids)
    .where("status", "=", "pending")
    .returningAll()
    .execute();
}

/**
 * RetryTask's step: a task in one of `from` goes back to `queued` with a new
 * series of `max_attempts` attempts. Attempt numbers keep counting (the next
 * claim is attempt `attempts + 1`, the first of the series), and the history
 * in task_attempts and task_events stays. Undefined when the task is in
 * another state (or gone).
 */
export async function requeueForRetry(
  db: Kysely<DB>,
  id: string,
  from: readonly TaskStatus[],
): Promise<TaskRow | undefined> {
  return db
    .updateTable("tasks")
    .set((eb) => ({
      status: "queued",
      queued_at: sql<Date>`now()`,
      completed_at: null,
      cancel_requested_at: null,
      error_code: null,
      error_message: null,
      error_http_status: null,
      output: "",
      series_start_attempt: eb("attempts", "+", 1),
    }))
    .where("id", "=", id)
    .where("status", "in", from)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Deletes a task in one of `from`. Its attempts, events and edges go with it
 * (ON DELETE CASCADE); its children stay, their parent_task_id set to null
 * (ON DELETE SET NULL, with the edge triggers agreeing). False when the task
 * is in another state or does not exist.
 */
export async function deleteTaskIn(
  db: Kysely<DB>,
  id: string,
  from: readonly TaskStatus[],
): Promise<boolean> {
  const deleted = await db
    .deleteFrom("tasks")
    .where("id", "=", id)
    .where("status", "in", from)
    .returning("id")
    .executeTakeFirst();
  return deleted !== undefined;
}

/** Every attempt of a task, oldest first. */
export async function findTaskAttempts(db: Kysely<DB>, taskId: string): Promise<TaskAttemptRow[]> {
  return db
    .selectFrom("task_attempts")
    .selectAll()
    .where("task_id", "=", taskId)
    .orderBy("attempt")
    .execute();
}

/** Every event of a task, in sequence order. */
export async function findTaskEvents(db: Kysely<DB>, taskId: string): Promise<TaskEventRow[]> {
  return db
    .selectFrom("task_events")
    .selectAll()
    .where("task_id", "=", taskId)
    .orderBy("seq")
    .execute();
}
