import { type Kysely, sql } from "kysely";
import type { TaskStatus } from "../tasks/status.js";
import { LOCAL_USER_ID } from "./auth.js";
import { precompiled } from "./precompiled.js";
import {
  type AttemptOutcome,
  type DB,
  TASK_COLUMNS,
  type TaskAttemptRow,
  type TaskEventRow,
  type TaskRow,
} from "./schema.js";
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
  /**
   * Stored as `queued`, its job added right after the commit: a task with
   * nothing to wait for. Otherwise `pending`.
   */
  queued: boolean;
}

/**
 * Stores tasks, `queued` or `pending` as each record says, in one statement
 * (the trigger writes each one's `created` event). A row whose idempotency key is taken is skipped, not an
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
        status: task.queued ? ("queued" as const) : ("pending" as const),
        queued_at: task.queued ? sql<Date>`now()` : null,
      })),
    )
    .onConflict((oc) => oc.constraint("tasks_idempotency_key_key").doNothing())
    .returning(TASK_COLUMNS)
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
    .select(TASK_COLUMNS)
    .where("idempotency_key", "in", keys)
    .where("owner_id", "=", ownerId ?? LOCAL_USER_ID)
    .execute();
}

// One statement for any number of ids (an array parameter, not a list), so it compiles once.
const tasksById = precompiled(["ids"], (db: Kysely<DB>, p: { ids: readonly string[] }) =>
  db.selectFrom("tasks").select(TASK_COLUMNS).where(sql<boolean>`id = any(${p.ids}::uuid[])`),
);

/** The stored tasks among `ids`, in no promised order: what watchers re-read on every change. */
export async function findTasksById(db: Kysely<DB>, ids: readonly string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return tasksById(db, { ids });
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
    .returning(TASK_COLUMNS)
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
    .returning(TASK_COLUMNS)
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
): Promise<{ id: string; ownerId: string } | undefined> {
  const deleted = await db
    .deleteFrom("tasks")
    .where("id", "=", id)
    .where("status", "in", from)
    .returning(["id", "owner_id"])
    .executeTakeFirst();
  return deleted === undefined ? undefined : { id: deleted.id, ownerId: deleted.owner_id };
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

/** What a claim found: the task it moved to `running`, or the task as it was (undefined: gone). */
export type ClaimResult =
  | { claimed: true; task: TaskRow }
  | { claimed: false; task: TaskRow | undefined };

// Ids as one uuid[] parameter, so any number of claims is one statement,
// compiled once. claim_tasks (migration 0004) also takes a task whose job
// arrived before its creator marked it queued through queued first.
const claimStatement = precompiled(
  ["ids", "workerId"],
  (db: Kysely<DB>, p: { ids: readonly string[]; workerId: string }) =>
    db
      .selectFrom(
        sql<{ claimed: boolean }>`claim_tasks(${p.ids}::uuid[], ${p.workerId}::text)`.as("c"),
      )
      .select("c.claimed")
      .select(TASK_COLUMNS.map((column) => sql.raw(`(c.task).${column}`).as(column)))
      .$castTo<TaskRow & { claimed: boolean }>(),
);

/**
 * The claim: queued → running and a new attempt row, for each of `ids`, in
 * one round trip (a worker claims the jobs it received together at once); a
 * task still pending (its job was faster than its creator) goes through
 * queued on the way.
 * For a task it claims nothing for (another worker won, the task is not
 * queued, or it waited past its queue TTL), the same round trip returns the
 * task as the statement found it, so the caller can tell why without
 * reading it again. A task that no longer exists has no entry.
 */
export async function claimTasks(
  db: Kysely<DB>,
  ids: readonly string[],
  workerId: string,
): Promise<Map<string, ClaimResult>> {
  const results = new Map<string, ClaimResult>();
  if (ids.length === 0) return results;
  for (const { claimed, ...task } of await claimStatement(db, { ids, workerId })) {
    results.set(task.id, claimed ? { claimed: true, task } : { claimed: false, task });
  }
  return results;
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
 * A task as its attempt's end left it: the whole row, which watchers are sent
 * as it is (so no process needs to read it back).
 */
export type EndedTask = TaskRow;

/** Every value an end statement stores; each status uses some of them. */
interface EndValues {
  taskId: string;
  attempt: number;
  outcome: AttemptOutcome;
  latencyMs: number;
  ttftMs: number | null;
  provider: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  totalTokens: number | null;
  output: string;
  responseModel: string;
  costUsd: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
}

const ATTEMPT_VALUES = [
  "taskId",
  "attempt",
  "outcome",
  "latencyMs",
  "ttftMs",
  "provider",
  "promptTokens",
  "completionTokens",
  "errorCode",
  "errorMessage",
  "httpStatus",
] as const;

/** What the task row gets for each way an attempt ends. */
function taskSet(status: AttemptEnd["status"], v: EndValues) {
  const common = { latency_ms: v.latencyMs, ttft_ms: v.ttftMs, provider: v.provider };
  const error = {
    error_code: v.errorCode,
    error_message: v.errorMessage,
    error_http_status: v.httpStatus,
  };
  switch (status) {
    case "completed":
      return {
        ...common,
        status: sql<TaskStatus>`'completed'`,
        completed_at: sql<Date>`now()`,
        output: v.output,
        prompt_tokens: v.promptTokens,
        completion_tokens: v.completionTokens,
        total_tokens: v.totalTokens,
        response_model: v.responseModel,
        cost_usd: v.costUsd,
        error_code: null,
        error_message: null,
        error_http_status: null,
      };
    case "failed":
      return {
        ...common,
        ...error,
        status: sql<TaskStatus>`'failed'`,
        completed_at: sql<Date>`now()`,
      };
    case "cancelled":
      return {
        ...common,
        ...error,
        status: sql<TaskStatus>`'cancelled'`,
        completed_at: sql<Date>`now()`,
        output: v.output,
        completion_tokens: v.completionTokens,
      };
    case "queued":
      return {
        ...common,
        ...error,
        status: sql<TaskStatus>`case when cancel_requested_at is null then 'queued'::task_status else 'cancelled'::task_status end`,
        queued_at: sql<Date>`now()`,
        completed_at: sql<Date | null>`case when cancel_requested_at is null then null else now() end`,
      };
  }
}

const TASK_VALUES: Record<AttemptEnd["status"], readonly (keyof EndValues)[]> = {
  completed: ["output", "totalTokens", "responseModel", "costUsd"],
  failed: [],
  cancelled: ["output"],
  queued: [],
};

function endStatement(status: AttemptEnd["status"]) {
  return precompiled([...ATTEMPT_VALUES, ...TASK_VALUES[status]], (db: Kysely<DB>, v: EndValues) =>
    db
      .with("done", (qb) =>
        qb
          .updateTable("tasks")
          .set(taskSet(status, v))
          .where("id", "=", v.taskId)
          .where("status", "=", "running")
          .where("attempts", "=", v.attempt)
          .returning(TASK_COLUMNS),
      )
      .with("attempt", (qb) =>
        qb
          .updateTable("task_attempts")
          .set({
            finished_at: sql<Date>`now()`,
            outcome: v.outcome,
            latency_ms: v.latencyMs,
            ttft_ms: v.ttftMs,
            prompt_tokens: v.promptTokens,
            completion_tokens: v.completionTokens,
            error_code: v.errorCode,
            error_message: v.errorMessage,
            http_status: v.httpStatus,
          })
          .where("task_id", "=", v.taskId)
          .where("attempt", "=", v.attempt)
          .where("outcome", "=", "running")
          .where(({ exists, selectFrom }) => exists(selectFrom("done").select("done.id"))),
      )
      .selectFrom("done")
      .select(TASK_COLUMNS),
  );
}

const endStatements = {
  completed: endStatement("completed"),
  failed: endStatement("failed"),
  cancelled: endStatement("cancelled"),
  queued: endStatement("queued"),
};

/**
 * Ends the running attempt `measures.attempt` of a task: the task moves on
 * (guarded: only if it is still running that attempt, so a worker that lost
 * its lock cannot overwrite the result of the one that took over) and the
 * attempt row is closed, in one statement. Returns the task as it is
 * now. Undefined when the attempt no longer held the task.
 */
export async function endAttempt(
  db: Kysely<DB>,
  measures: AttemptMeasures,
  end: AttemptEnd,
): Promise<EndedTask | undefined> {
  const failure = end.status === "completed" ? undefined : end.error;
  const [row] = await endStatements[end.status](db, {
    taskId: measures.taskId,
    attempt: measures.attempt,
    outcome:
      end.status === "completed"
        ? "succeeded"
        : end.status === "queued"
          ? end.attemptOutcome
          : end.status === "cancelled"
            ? "cancelled"
            : "failed",
    latencyMs: measures.latencyMs,
    ttftMs: measures.ttftMs ?? null,
    provider: measures.provider ?? null,
    promptTokens: measures.promptTokens ?? null,
    completionTokens: measures.completionTokens ?? null,
    totalTokens: end.status === "completed" ? (end.totalTokens ?? null) : null,
    output: end.status === "completed" || end.status === "cancelled" ? end.output : "",
    responseModel: end.status === "completed" ? end.responseModel : "",
    costUsd: end.status === "completed" && end.costUsd !== undefined ? String(end.costUsd) : null,
    errorCode: failure?.code ?? null,
    errorMessage: failure?.message ?? null,
    httpStatus: failure?.httpStatus ?? null,
  });
  return row;
}

/** One completed attempt of {@link completeAttempts}. */
export interface CompletedAttempt {
  measures: AttemptMeasures;
  end: Extract<AttemptEnd, { status: "completed" }>;
}

/** The columns of {@link completeAttempts}, one array each, in the same order. */
interface CompletionColumns {
  taskIds: string[];
  attempts: number[];
  latencyMs: number[];
  ttftMs: (number | null)[];
  providers: (string | null)[];
  promptTokens: (number | null)[];
  completionTokens: (number | null)[];
  totalTokens: (number | null)[];
  outputs: string[];
  responseModels: string[];
  costsUsd: (string | null)[];
}

const completeStatement = precompiled(
  [
    "taskIds",
    "attempts",
    "latencyMs",
    "ttftMs",
    "providers",
    "promptTokens",
    "completionTokens",
    "totalTokens",
    "outputs",
    "responseModels",
    "costsUsd",
  ],
  (db: Kysely<DB>, c: CompletionColumns) => {
    const query = sql<EndedTask>`
      with v as (
        select * from unnest(
          ${c.taskIds}::uuid[], ${c.attempts}::int[], ${c.latencyMs}::int[], ${c.ttftMs}::int[],
          ${c.providers}::text[], ${c.promptTokens}::int[], ${c.completionTokens}::int[],
          ${c.totalTokens}::int[], ${c.outputs}::text[], ${c.responseModels}::text[],
          ${c.costsUsd}::numeric[]
        ) as v(task_id, attempt, latency_ms, ttft_ms, provider, prompt_tokens,
               completion_tokens, total_tokens, output, response_model, cost_usd)
      ),
      done as (
        update tasks t set
          status = 'completed', completed_at = now(), output = v.output,
          latency_ms = v.latency_ms, ttft_ms = v.ttft_ms, provider = v.provider,
          prompt_tokens = v.prompt_tokens, completion_tokens = v.completion_tokens,
          total_tokens = v.total_tokens, response_model = v.response_model, cost_usd = v.cost_usd,
          error_code = null, error_message = null, error_http_status = null
        from v
        where t.id = v.task_id and t.status = 'running' and t.attempts = v.attempt
        returning ${sql.join(TASK_COLUMNS.map((column) => sql.ref(`t.${column}`)))}
      ),
      attempt as (
        update task_attempts a set
          finished_at = now(), outcome = 'succeeded',
          latency_ms = v.latency_ms, ttft_ms = v.ttft_ms,
          prompt_tokens = v.prompt_tokens, completion_tokens = v.completion_tokens,
          error_code = null, error_message = null, http_status = null
        from v join done on done.id = v.task_id
        where a.task_id = v.task_id and a.attempt = v.attempt and a.outcome = 'running'
      )
      select ${sql.join(TASK_COLUMNS.map((column) => sql.ref(column)))} from done`;
    return { compile: () => query.compile(db) };
  },
);

/**
 * {@link endAttempt} for attempts that completed, any number in one
 * statement: what a worker running many tasks stores at the end of one turn
 * of the event loop. The same guards per task; a task whose attempt no
 * longer holds it has no entry.
 */
export async function completeAttempts(
  db: Kysely<DB>,
  completed: readonly CompletedAttempt[],
): Promise<Map<string, EndedTask>> {
  const ended = new Map<string, EndedTask>();
  if (completed.length === 0) return ended;
  const rows = await completeStatement(db, {
    taskIds: completed.map((c) => c.measures.taskId),
    attempts: completed.map((c) => c.measures.attempt),
    latencyMs: completed.map((c) => c.measures.latencyMs),
    ttftMs: completed.map((c) => c.measures.ttftMs ?? null),
    providers: completed.map((c) => c.measures.provider ?? null),
    promptTokens: completed.map((c) => c.measures.promptTokens ?? null),
    completionTokens: completed.map((c) => c.measures.completionTokens ?? null),
    totalTokens: completed.map((c) => c.end.totalTokens ?? null),
    outputs: completed.map((c) => c.end.output),
    responseModels: completed.map((c) => c.end.responseModel),
    costsUsd: completed.map((c) => (c.end.costUsd === undefined ? null : String(c.end.costUsd))),
  });
  for (const row of rows) ended.set(row.id, row);
  return ended;
}
