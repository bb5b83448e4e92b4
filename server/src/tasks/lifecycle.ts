import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import { hiddenTasks } from "../auth/access.js";
import { isForeignKeyViolation } from "../db/errors.js";
import {
  type DependencyRow,
  dependenciesOf,
  findTaskWithDependencies,
  insertDependencies,
} from "../db/graph.js";
import type { DB, TaskAttemptRow, TaskEventRow } from "../db/schema.js";
import {
  deleteTaskIn,
  existingTaskIds,
  findTaskAttempts,
  findTaskEvents,
  findTasksById,
  findTasksByIdempotencyKey,
  insertTasks,
  type NewTaskRecord,
  requeueForRetry,
} from "../db/task-writes.js";
import {
  countTasksByStatus,
  cursorAfter,
  findTask,
  listTasks,
  type TaskListCursor,
  type TaskListFilter,
  type TaskParamsJson,
  type TaskRow,
} from "../db/tasks.js";
import type { TaskNotifier } from "../events/publisher.js";
import { type ProviderRegistry, UnknownModelError } from "../llm/providers.js";
import type { EnqueueJob, TaskQueue } from "../queue/task-queue.js";
import {
  AlreadyExistsError,
  InvalidFieldError,
  TaskNotFoundError,
  TaskStateError,
} from "./errors.js";
import type { TaskGraph } from "./graph.js";
import { isTerminal, type TaskPriority, type TaskStatus, TERMINAL_STATUSES } from "./status.js";

/** An idempotency key and the hash of the request it was sent with. */
export interface IdempotencyInput {
  key: string;
  requestHash: string;
}

export interface CreateTaskInput {
  name: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  params: TaskParamsJson;
  priority: TaskPriority;
  parentTaskId: string | undefined;
  metadata: Record<string, string>;
  requestId: string;
  /** Undefined means the default (3). */
  maxAttempts: number | undefined;
  timeoutMs: number | undefined;
  queueTtlMs: number | undefined;
  /** Not before this time; a time already past means now. */
  runAt: Date | undefined;
  idempotency: IdempotencyInput | undefined;
  /** Upstream tasks to wait for: stored ones by id, or others of the same batch by ref. */
  dependsOn: DependencyInput[];
  vars: Record<string, string>;
  /** Within a batch: how other items refer to this one. */
  ref: string | undefined;
  /** Within a batch: the parent as another item's ref. */
  parentRef: string | undefined;
  /** The user creating it; unset: the built-in local user. */
  ownerId?: string;
}

/** What {@link TaskLifecycle.list} returns. */
export interface TaskListPage {
  rows: TaskRow[];
  /** Per status, for every filter but the statuses; empty unless asked for. */
  counts: Array<{ status: TaskStatus; count: number }>;
  /** Where the next page starts; undefined on the last page. */
  next: TaskListCursor | undefined;
}

export interface DependencyInput {
  taskId?: string;
  ref?: string;
  name: string | undefined;
}

export interface CreateBatchInput {
  tasks: CreateTaskInput[];
  /** A keyed batch: its tasks carry no keys of their own. */
  idempotency: IdempotencyInput | undefined;
}

/** A task with its attempts (oldest first) and its events (by sequence number). */
export interface TaskHistory {
  task: TaskRow;
  attempts: TaskAttemptRow[];
  events: TaskEventRow[];
  dependencies: DependencyRow[];
}

export interface TaskLifecycleDeps {
  db: Kysely<DB>;
  queue: TaskQueue;
  providers: ProviderRegistry;
  notifier: TaskNotifier;
  graph: TaskGraph;
  log: Logger;
}

const DEFAULT_MAX_ATTEMPTS = 3;
const RETRYABLE_STATUSES = ["failed", "cancelled"] as const satisfies readonly TaskStatus[];

/** One task of a create request, with the names its errors use. */
interface PlannedTask {
  record: NewTaskRecord;
  input: CreateTaskInput;
  /** "" for CreateTask, "tasks[3]." for an item of a batch. */
  fieldPrefix: string;
  /** The request field a reused idempotency key is reported on. */
  keyField: string;
}

/**
 * The API side of a task's life: create (one or a batch), read, retry and
 * delete. Creation stores the task, then adds its job (see {@link create}).
 * The worker's side is in runner.ts, cancellation in cancel.ts; SQL stays in
 * db/, HTTP to providers in llm/.
 */
export class TaskLifecycle {
  readonly #db: Kysely<DB>;
  readonly #queue: TaskQueue;
  readonly #providers: ProviderRegistry;
  readonly #notifier: TaskNotifier;
  readonly #graph: TaskGraph;
  readonly #log: Logger;

  constructor(deps: TaskLifecycleDeps) {
    this.#graph = deps.graph;
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#providers = deps.providers;
    this.#notifier = deps.notifier;
    this.#log = deps.log;
  }

  /**
   * Stores the task as `queued`, then puts its id on the queue: one
   * statement and one Redis call. A task that waits (for an upstream, or for
   * a future `runAt`, whose job is delayed) is stored as `pending` instead,
   * and moves on when the graph enqueues it or its job reaches a worker. A
   * crash between the commit and the job leaves a task without a job, which
   * the recovery sweep enqueues later; nothing is lost.
   * With an idempotency key, a repeat of the same request returns the task
   * stored the first time, and another request with that key is refused.
   */
  async create(input: CreateTaskInput): Promise<TaskRow> {
    const [task] = await this.#createAll([
      plan(input, { fieldPrefix: "", keyField: "idempotency_key", idempotency: input.idempotency }),
    ]);
    if (task === undefined) throw new Error("create returned no task");
    return task;
  }

  /**
   * Creates 1–100 tasks all or nothing: one insert, then one bulk enqueue. A
   * keyed batch stores each task under `<key>#<index>` with the whole batch's
   * hash, so a replay returns the same tasks in the same order.
   */
  async createBatch(batch: CreateBatchInput): Promise<TaskRow[]> {
    const batchKey = batch.idempotency;
    return this.#createAll(
      batch.tasks.map((input, i) =>
        batchKey === undefined
          ? plan(input, {
              fieldPrefix: `tasks[${i}].`,
              keyField: `tasks[${i}].idempotency_key`,
              idempotency: input.idempotency,
            })
          : plan(input, {
              fieldPrefix: `tasks[${i}].`,
              keyField: "idempotency_key",
              idempotency: { key: `${batchKey.key}#${i}`, requestHash: batchKey.requestHash },
            }),
      ),
    );
  }

  async get(id: string): Promise<TaskRow> {
    const task = await findTask(this.#db, id);
    if (task === undefined) throw new TaskNotFoundError(id);
    return task;
  }

  /** The task and its dependencies, in one read. */
  async getWithDependencies(id: string): Promise<{ task: TaskRow; dependencies: DependencyRow[] }> {
    const found = await findTaskWithDependencies(this.#db, id);
    if (found === undefined) throw new TaskNotFoundError(id);
    return found;
  }

  /** The task with its attempts and events, read from one snapshot so they agree. */
  async getWithHistory(id: string): Promise<TaskHistory> {
    return this.#db
      .transaction()
      .setIsolationLevel("repeatable read")
      .setAccessMode("read only")
      .execute(async (trx) => {
        const task = await findTask(trx, id);
        if (task === undefined) throw new TaskNotFoundError(id);
        const attempts = await findTaskAttempts(trx, id);
        const events = await findTaskEvents(trx, id);
        const dependencies = await dependenciesOf(trx, [id]);
        return { task, attempts, events, dependencies };
      });
  }

  /** The dependencies of each of `ids` (those with none are absent), in one read. */
  async dependencies(ids: readonly string[]): Promise<Map<string, DependencyRow[]>> {
    const byTask = new Map<string, DependencyRow[]>();
    for (const row of await dependenciesOf(this.#db, ids)) {
      const list = byTask.get(row.child_id);
      if (list === undefined) byTask.set(row.child_id, [row]);
      else list.push(row);
    }
    return byTask;
  }

  /**
   * One page of a list, the cursor of the next one, and (when asked) the
   * counts per status that the list's status chips show.
   */
  async list(filter: TaskListFilter, options: { withCounts: boolean }): Promise<TaskListPage> {
    // One extra row tells whether another page exists without a count query.
    const [found, counts] = await Promise.all([
      listTasks(this.#db, { ...filter, limit: filter.limit + 1 }),
      options.withCounts ? countTasksByStatus(this.#db, filter) : [],
    ]);
    const rows = found.slice(0, filter.limit);
    const last = rows.at(-1);
    const next =
      found.length > filter.limit && last !== undefined
        ? cursorAfter(last, filter.sort)
        : undefined;
    return { rows, counts, next };
  }

  /** The tasks among `ids` a bulk action treats as missing for `ownerId` (the access rule `eachOwn`). */
  hiddenTasks(ownerId: string | undefined, ids: readonly string[]): Promise<ReadonlySet<string>> {
    return hiddenTasks(this.#db, ownerId, ids);
  }

  /**
   * RetryTask: a failed or cancelled task goes back to `queued` with a fresh
   * series of attempts; attempt numbers keep counting and its history stays.
   * It runs now, even if its `run_at` is still ahead (a task cannot go back
   * to `pending`).
   */
  async retry(id: string): Promise<TaskRow> {
    const task = await requeueForRetry(this.#db, id, RETRYABLE_STATUSES);
    if (task === undefined) {
      const current = await this.get(id);
      throw new TaskStateError(
        `task ${id} is ${current.status}; only failed or cancelled tasks can be retried`,
      );
    }
    try {
      if (!(await this.#queue.requeue(task.id, task.priority, { model: task.model }))) {
        this.#log.warn({ taskId: id }, "retried task's old job is still active; left to recovery");
      }
    } catch (err) {
      // The task is queued without a job. That is recoverable: the recovery
      // sweep re-enqueues queued tasks whose job is missing. Failing the call
      // would only make the client retry into FailedPrecondition.
      this.#log.warn({ err, taskId: id }, "could not enqueue a retried task; left to recovery");
    }
    this.#notifier.changed([task]);
    return task;
  }

  /**
   * DeleteTask: only a finished task, with its attempts and events. Its
   * children stay; their parent_task_id becomes null.
   */
  async delete(id: string): Promise<void> {
    const deleted = await deleteTaskIn(this.#db, id, TERMINAL_STATUSES);
    if (deleted !== undefined) {
      this.#notifier.deleted([deleted]);
      return;
    }
    const current = await this.get(id);
    // It finished between the two statements: one more try settles it.
    const retried = isTerminal(current.status)
      ? await deleteTaskIn(this.#db, id, TERMINAL_STATUSES)
      : undefined;
    if (retried !== undefined) {
      this.#notifier.deleted([retried]);
      return;
    }
    throw new TaskStateError(
      `task ${id} is ${current.status}; only completed, failed or cancelled tasks can be deleted`,
    );
  }

  async #createAll(plans: readonly PlannedTask[]): Promise<TaskRow[]> {
    const result: Array<TaskRow | undefined> = plans.map(() => undefined);
    const position = new Map(plans.map((p, i) => [p.record.id, i]));
    const place = (id: string, row: TaskRow) => {
      const i = position.get(id);
      if (i !== undefined) result[i] = row;
    };
    resolveRefs(plans);
    const replayed = await this.#storedUnderKey(this.#db, plans);
    for (const [i, row] of replayed) result[i] = row;
    const fresh = plans.filter((_, i) => result[i] === undefined);
    if (fresh.length > 0) {
      this.#checkModels(fresh);
      await this.#checkParents(fresh);
      const now = Date.now();
      for (const { record } of fresh) {
        record.queued =
          !hasUpstream(record) && (record.runAt === undefined || record.runAt.getTime() <= now);
      }
      const { inserted, won } = await this.#insert(fresh);
      // Committed: watchers learn of the tasks before any worker can move them on.
      this.#notifier.created(inserted);
      for (const [p, row] of won) place(p.record.id, row);
      for (const row of await this.#enqueue(inserted, fresh)) place(row.id, row);
    }
    return result.map((row) => {
      if (row === undefined) throw new Error("a created task is missing from the result");
      return row;
    });
  }

  /**
   * Tasks already stored under the plans' idempotency keys, by plan index. A
   * key stored with another request's hash is refused.
   */
  async #storedUnderKey(
    db: Kysely<DB>,
    plans: readonly PlannedTask[],
  ): Promise<Map<number, TaskRow>> {
    const keys = plans.flatMap((p) => p.record.idempotencyKey ?? []);
    const found = new Map<number, TaskRow>();
    if (keys.length === 0) return found;
    const byKey = new Map(
      // One request, one caller: every plan has the same owner.
      (await findTasksByIdempotencyKey(db, keys, plans[0]?.record.ownerId)).map((row) => [
        row.idempotency_key,
        row,
      ]),
    );
    plans.forEach((p, i) => {
      const row = byKey.get(p.record.idempotencyKey ?? null);
      if (row === undefined) return;
      if (row.request_hash !== p.record.requestHash) {
        throw new AlreadyExistsError(p.keyField, "already used with a different request");
      }
      found.set(i, row);
    });
    return found;
  }

  #checkModels(plans: readonly PlannedTask[]): void {
    for (const p of plans) {
      try {
        this.#providers.resolve(p.record.model);
      } catch (error) {
        if (error instanceof UnknownModelError) {
          throw new InvalidFieldError(`${p.fieldPrefix}model`, error.message);
        }
        throw error;
      }
    }
  }

  async #checkParents(plans: readonly PlannedTask[]): Promise<void> {
    const inBatch = new Set(plans.map((p) => p.record.id));
    const stored = (id: string | undefined) => (id === undefined || inBatch.has(id) ? [] : [id]);
    const upstream = [
      ...new Set(
        plans.flatMap((p) => [
          ...stored(p.record.parentTaskId),
          ...p.record.dependsOn.flatMap((d) => stored(d.taskId)),
        ]),
      ),
    ];
    if (upstream.length === 0) return;
    const existing = await existingTaskIds(this.#db, upstream);
    for (const p of plans) {
      const parent = p.record.parentTaskId;
      if (parent !== undefined && !inBatch.has(parent) && !existing.has(parent)) {
        throw new InvalidFieldError(
          `${p.fieldPrefix}parent_task_id`,
          `task ${parent} does not exist`,
        );
      }
      p.record.dependsOn.forEach((d, i) => {
        if (!inBatch.has(d.taskId) && !existing.has(d.taskId)) {
          throw new InvalidFieldError(
            `${p.fieldPrefix}depends_on[${i}].task_id`,
            `task ${d.taskId} does not exist`,
          );
        }
      });
    }
  }

  /**
   * One insert; a plan whose key a concurrent request took meanwhile (the
   * insert skipped it) gets that request's task, or AlreadyExists. Several
   * rows that may conflict share a transaction, so AlreadyExists rolls back
   * the rest; otherwise the insert alone is atomic and needs none.
   */
  async #insert(
    plans: readonly PlannedTask[],
  ): Promise<{ inserted: TaskRow[]; won: Map<PlannedTask, TaskRow> }> {
    const insert = async (db: Kysely<DB>) => {
      // Keys in one order, so two batches sharing keys wait on each other rather than deadlock.
      const records = plans.map((p) => p.record).sort(byIdempotencyKey);
      const position = new Map(plans.map((p, i) => [p.record.id, i]));
      const inserted = (await insertTasks(db, records)).sort(
        (a, b) => (position.get(a.id) ?? 0) - (position.get(b.id) ?? 0),
      );
      const insertedIds = new Set(inserted.map((row) => row.id));
      await insertDependencies(
        db,
        plans
          .filter((p) => insertedIds.has(p.record.id))
          .flatMap((p) =>
            p.record.dependsOn.map((d) => ({
              parentId: d.taskId,
              childId: p.record.id,
              name: d.name,
            })),
          ),
      );
      const lost = plans.filter((p) => !insertedIds.has(p.record.id));
      const stored = await this.#storedUnderKey(db, lost);
      const won = new Map<PlannedTask, TaskRow>();
      lost.forEach((p, i) => {
        const row = stored.get(i);
        // Only a key conflict skips a row, and the conflicting row is committed.
        if (row === undefined) throw new Error(`task ${p.record.id} was neither stored nor found`);
        won.set(p, row);
      });
      return { inserted, won };
    };
    // Tasks and their dependency edges commit together, or a task could run
    // before its upstream edges exist.
    const mayConflict =
      (plans.length > 1 && plans.some((p) => p.record.idempotencyKey !== undefined)) ||
      plans.some((p) => p.record.dependsOn.length > 0);
    try {
      return mayConflict ? await this.#db.transaction().execute(insert) : await insert(this.#db);
    } catch (error) {
      // A parent deleted after the check: report it like a missing one.
      if (isForeignKeyViolation(error)) await this.#checkParents(plans);
      throw error;
    }
  }

  /**
   * Puts freshly stored tasks on the queue, and hands those with an upstream
   * to the graph. Returns the rows as they are now.
   */
  async #enqueue(all: readonly TaskRow[], plans: readonly PlannedTask[]): Promise<TaskRow[]> {
    if (all.length === 0) return [];
    // A task with an upstream (parent or dependency) waits for it: the graph
    // enqueues it when every upstream has completed, maybe right now.
    const withUpstream = new Set(
      plans.filter((p) => hasUpstream(p.record)).map((p) => p.record.id),
    );
    const waiting = all.filter((row) => withUpstream.has(row.id)).map((row) => row.id);
    const inserted = all.filter((row) => !withUpstream.has(row.id));
    const now = Date.now();
    const jobs: EnqueueJob[] = inserted.map((row) => ({
      taskId: row.id,
      priority: row.priority,
      model: row.model,
      // Only a pending task waits for its run_at; a queued one runs now.
      delayMs:
        row.status === "pending" && row.run_at !== null ? row.run_at.getTime() - now : undefined,
    }));
    const [only] = jobs;
    if (jobs.length === 0) {
      // Every task waits for an upstream.
    } else if (jobs.length === 1 && only !== undefined) {
      await this.#queue.enqueue(only.taskId, only.priority, only);
    } else {
      await this.#queue.enqueueMany(jobs);
    }
    if (waiting.length === 0) return [...all];
    await this.#graph.cancelBlocked(waiting);
    await this.#graph.dispatch(waiting);
    const current = new Map(
      (await findTasksById(this.#db, waiting)).map((row) => [row.id, row] as const),
    );
    return all.map((row) => current.get(row.id) ?? row);
  }
}

/** A task with a parent or dependencies waits for them: the graph enqueues it. */
function hasUpstream(record: NewTaskRecord): boolean {
  return record.parentTaskId !== undefined || record.dependsOn.length > 0;
}

function byIdempotencyKey(a: NewTaskRecord, b: NewTaskRecord): number {
  const [x, y] = [a.idempotencyKey ?? "", b.idempotencyKey ?? ""];
  return x < y ? -1 : x > y ? 1 : 0;
}

function plan(
  input: CreateTaskInput,
  {
    fieldPrefix,
    keyField,
    idempotency,
  }: Omit<PlannedTask, "record" | "input"> & {
    idempotency: IdempotencyInput | undefined;
  },
): PlannedTask {
  return {
    record: {
      id: uuidv7(),
      name: input.name,
      prompt: input.prompt,
      systemPrompt: input.systemPrompt,
      model: input.model,
      params: input.params,
      priority: input.priority,
      parentTaskId: input.parentTaskId,
      metadata: input.metadata,
      requestId: input.requestId,
      maxAttempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      timeoutMs: input.timeoutMs,
      queueTtlMs: input.queueTtlMs,
      runAt: input.runAt,
      idempotencyKey: idempotency?.key,
      requestHash: idempotency?.requestHash,
      vars: input.vars,
      dependsOn: [],
      ownerId: input.ownerId,
      // Decided once the upstream refs are resolved (#createAll).
      queued: false,
    },
    input,
    fieldPrefix,
    keyField,
  };
}

/**
 * Gives each plan its upstream task ids: refs to other items of the batch
 * become their (already chosen) ids. Validation made sure every ref exists.
 */
function resolveRefs(plans: readonly PlannedTask[]): void {
  const idOfRef = new Map(
    plans.flatMap((p) => (p.input.ref === undefined ? [] : [[p.input.ref, p.record.id]])),
  );
  const idOf = (ref: string) => {
    const id = idOfRef.get(ref);
    if (id === undefined) throw new Error(`unresolved ref ${ref}`);
    return id;
  };
  for (const p of plans) {
    if (p.input.parentRef !== undefined) p.record.parentTaskId = idOf(p.input.parentRef);
    p.record.dependsOn = p.input.dependsOn.map((d) => ({
      taskId: d.taskId ?? idOf(d.ref ?? ""),
      name: d.name,
    }));
  }
}
