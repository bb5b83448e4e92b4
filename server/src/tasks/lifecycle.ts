import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import type { DB } from "../db/schema.js";
import {
  claimTask,
  completeTask,
  failTask,
  findTask,
  insertTask,
  listTasks,
  markQueued,
  type TaskListFilter,
  type TaskParamsJson,
  type TaskRow,
  taskExists,
} from "../db/tasks.js";
import { ProviderError } from "../llm/errors.js";
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
 * The one place a task's life is decided: create (outbox: pending → queued),
 * run (claim → provider call → completed | failed). Transports call in here;
 * SQL stays in db/, HTTP to providers in llm/.
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

  /**
   * The worker's path for one job. Returns without doing anything when the
   * claim is lost: another worker has the task, or it is no longer queued.
   */
  async run(taskId: string, workerId: string, signal: AbortSignal | undefined): Promise<void> {
    let task = await claimTask(this.#db, taskId, workerId);
    if (task === undefined) {
      // The job can reach a worker before its creator has marked the task
      // queued. A job existing is what `queued` means, so the worker may make
      // that step itself (or find the creator just did), then claim again.
      await markQueued(this.#db, taskId);
      task = await claimTask(this.#db, taskId, workerId);
    }
    if (task === undefined) {
      this.#log.debug({ taskId }, "claim lost; dropping job");
      return;
    }
    const attempt = task.attempts;
    const log = this.#log.child({ taskId, attempt, requestId: task.request_id });
    const started = performance.now();
    let providerName: string | undefined;
    try {
      const { provider, client, upstreamModel } = this.#providers.resolve(task.model);
      providerName = provider.name;
      const messages = [
        ...(task.system_prompt === ""
          ? []
          : [{ role: "system" as const, content: task.system_prompt }]),
        { role: "user" as const, content: task.prompt },
      ];
      const answer = await client.chat(
        { model: upstreamModel, messages, ...(task.params as TaskParamsJson) },
        { signal, requestId: task.request_id ?? undefined, stream: true },
      );
      const usage = answer.usage;
      const completed = await completeTask(this.#db, {
        taskId,
        attempt,
        output: answer.content,
        latencyMs: Math.round(answer.latencyMs),
        ttftMs: answer.ttftMs === undefined ? undefined : Math.round(answer.ttftMs),
        promptTokens: usage?.promptTokens,
        completionTokens: usage?.completionTokens,
        totalTokens: usage?.totalTokens,
        provider: provider.name,
        responseModel: answer.responseModel,
        costUsd: usage === undefined ? undefined : this.#providers.costUsd(task.model, usage),
      });
      if (completed === undefined) log.info("task left running before its result was stored");
    } catch (error) {
      const failure =
        error instanceof ProviderError
          ? { code: error.code, message: error.message, httpStatus: error.httpStatus }
          : {
              code: "INTERNAL",
              message: "internal error while running the task",
              httpStatus: undefined,
            };
      if (!(error instanceof ProviderError)) log.error({ err: error }, "task run failed");
      await failTask(
        this.#db,
        {
          taskId,
          attempt,
          latencyMs: Math.round(performance.now() - started),
          ttftMs: undefined,
          promptTokens: undefined,
          completionTokens: undefined,
          provider: providerName,
        },
        failure,
      );
    }
  }
}
