import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import type { DB } from "../db/schema.js";
import {
  findTask,
  insertTask,
  listTasks,
  markQueued,
  type TaskListFilter,
  type TaskParamsJson,
  type TaskRow,
  taskExists,
} from "../db/tasks.js";
import type { ProviderRegistry } from "../llm/providers.js";
import type { TaskQueue } from "../queue/task-queue.js";
import { InvalidFieldError, TaskNotFoundError } from "./errors.js";
import type { TaskPriority } from "./status.js";

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
}

export interface TaskLifecycleDeps {
  db: Kysely<DB>;
  queue: TaskQueue;
  providers: ProviderRegistry;
  log: Logger;
}

const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * Creating and reading tasks. Creation is an outbox: pending → job → queued.
 * The worker's side of the lifecycle is in runner.ts; SQL stays in db/,
 * HTTP to providers in llm/.
 */
export class TaskLifecycle {
  readonly #db: Kysely<DB>;
  readonly #queue: TaskQueue;
  readonly #providers: ProviderRegistry;
  readonly #log: Logger;

  constructor(deps: TaskLifecycleDeps) {
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#providers = deps.providers;
    this.#log = deps.log;
  }

  /**
   * Stores the task as `pending`, puts its id on the queue, then marks it
   * `queued`. A crash between the steps leaves a `pending` task that the
   * dispatcher enqueues later; nothing is lost.
   */
  async create(input: CreateTaskInput): Promise<TaskRow> {
    this.#providers.resolve(input.model); // throws UnknownModelError → model: …
    if (input.parentTaskId !== undefined && !(await taskExists(this.#db, input.parentTaskId))) {
      throw new InvalidFieldError("parent_task_id", `task ${input.parentTaskId} does not exist`);
    }
    const pending = await insertTask(this.#db, {
      ...input,
      id: uuidv7(),
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
    });
    await this.#queue.enqueue(pending.id, input.priority);
    // Undefined means a worker already moved it on; the stored row is then the truth.
    return (await markQueued(this.#db, pending.id)) ?? (await this.get(pending.id));
  }

  async get(id: string): Promise<TaskRow> {
    const task = await findTask(this.#db, id);
    if (task === undefined) throw new TaskNotFoundError(id);
    return task;
  }

  async list(filter: TaskListFilter): Promise<TaskRow[]> {
    return listTasks(this.#db, filter);
  }
}
