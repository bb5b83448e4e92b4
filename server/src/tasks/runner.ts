import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { DB } from "../db/schema.js";
import { claimTask, completeTask, failTask, markQueued, type TaskParamsJson } from "../db/tasks.js";
import { ProviderError } from "../llm/errors.js";
import type { ProviderRegistry } from "../llm/providers.js";

export interface TaskRunnerDeps {
  db: Kysely<DB>;
  providers: ProviderRegistry;
  log: Logger;
}

/** The worker's side of a task's life: claim, call the provider, record the outcome. */
export class TaskRunner {
  readonly #db: Kysely<DB>;
  readonly #providers: ProviderRegistry;
  readonly #log: Logger;

  constructor(deps: TaskRunnerDeps) {
    this.#db = deps.db;
    this.#providers = deps.providers;
    this.#log = deps.log;
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
