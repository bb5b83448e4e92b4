import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { DB } from "../db/schema.js";
import {
  type AttemptEnd,
  type AttemptMeasures,
  type ClaimResult,
  type CompletedAttempt,
  claimTasks,
  completeAttempts,
  type EndedTask,
  endAttempt,
  type TaskFailure,
} from "../db/task-writes.js";
import {
  expireQueuedTask,
  findTask,
  releaseLostTask,
  type TaskParamsJson,
  type TaskRow,
} from "../db/tasks.js";
import type { TaskNotifier } from "../events/publisher.js";
import { ProviderError } from "../llm/errors.js";
import { estimateTokens } from "../llm/openai-client.js";
import { type ProviderRegistry, UnknownModelError } from "../llm/providers.js";
import { type BackoffOptions, retryDelayMs } from "../llm/retry.js";
import type { TaskGraph } from "./graph.js";
import { isTerminal } from "./status.js";
import { batchPerTurn } from "./turn-batch.js";

/** Why a job's AbortSignal fired; the queue passes these as the abort reason. */
export const ABORT_CANCELLED = "cancelled";
export const ABORT_SHUTDOWN = "shutdown";

/** What became of one job, and whether the queue must hand it back later. */
export interface RunResult {
  outcome: "completed" | "failed" | "cancelled" | "retrying" | "requeued" | "deferred" | "dropped";
  /**
   * Set for `retrying`, `requeued` and `deferred` (the provider had no free
   * permit; no attempt was used): deliver the job again after this long.
   */
  retryInMs?: number;
}

export interface TaskRunnerOptions {
  /** Longest one attempt may run when the task sets no timeout. */
  defaultTimeoutMs: number;
  backoff?: BackoffOptions;
}

export interface TaskRunnerDeps {
  db: Kysely<DB>;
  providers: ProviderRegistry;
  notifier: TaskNotifier;
  graph: TaskGraph;
  log: Logger;
  options: TaskRunnerOptions;
}

/**
 * The worker's side of a task's life: claim it, call the provider, and end
 * the attempt as completed, failed, cancelled, or queued again for a retry.
 * BullMQ only delivers jobs; every decision here is checked against
 * PostgreSQL by guarded updates, so a duplicate delivery can never store a
 * second result.
 */
export class TaskRunner {
  readonly #db: Kysely<DB>;
  readonly #providers: ProviderRegistry;
  readonly #notifier: TaskNotifier;
  readonly #graph: TaskGraph;
  readonly #log: Logger;
  readonly #options: TaskRunnerOptions;
  /** The claims of every job received in one turn of the event loop, as one statement. */
  readonly #claimInTurn = batchPerTurn((jobs: readonly { taskId: string; workerId: string }[]) =>
    this.#claimAll(jobs),
  );
  /** The ends of every attempt completed in one turn, as one statement. */
  readonly #completeInTurn = batchPerTurn((attempts: readonly CompletedAttempt[]) =>
    completeAttempts(this.#db, attempts).then((ended) =>
      attempts.map((a) => ({ ended: ended.get(a.measures.taskId) })),
    ),
  );

  constructor(deps: TaskRunnerDeps) {
    this.#db = deps.db;
    this.#providers = deps.providers;
    this.#notifier = deps.notifier;
    this.#graph = deps.graph;
    this.#log = deps.log;
    this.#options = deps.options;
  }

  /**
   * `model` is the task's model when the job carries it; otherwise (or when
   * the provider limits tokens, which needs the prompt's size) the task is
   * read first.
   */
  async run(
    taskId: string,
    workerId: string,
    jobSignal: AbortSignal | undefined,
    model?: string,
  ): Promise<RunResult> {
    // Ask the provider before claiming, so a saturated provider hands the job
    // back instead of holding a worker slot that tasks for other providers need.
    let modelId = model;
    let estimatedTokens: number | undefined;
    if (modelId === undefined || this.#providers.limitsTokens(modelId)) {
      const before = await findTask(this.#db, taskId);
      if (before === undefined || isTerminal(before.status)) return { outcome: "dropped" };
      modelId = before.model;
      estimatedTokens = estimateTokens({
        messages: messagesOf(before),
        max_tokens: paramsOf(before).max_tokens,
      });
    }
    const permit = this.#providers.tryAcquire(modelId, estimatedTokens);
    if ("retryInMs" in permit) return { outcome: "deferred", retryInMs: permit.retryInMs };
    let usedTokens: number | undefined;
    try {
      const result = await this.#claimAndRun(taskId, workerId, jobSignal);
      usedTokens = result.usedTokens;
      return result.result;
    } finally {
      permit.release(usedTokens);
    }
  }

  async #claimAndRun(
    taskId: string,
    workerId: string,
    jobSignal: AbortSignal | undefined,
  ): Promise<{ result: RunResult; usedTokens?: number }> {
    const task = await this.#claim(taskId, workerId);
    if (task === undefined) return { result: { outcome: "dropped" } };
    const log = this.#log.child({ taskId, attempt: task.attempts, requestId: task.request_id });
    if (task.cancel_requested_at !== null) {
      await this.#end(task, undefined, {
        status: "cancelled",
        output: "",
        error: cancelledError(),
      });
      return { result: { outcome: "cancelled" } };
    }

    const timeoutMs = task.timeout_ms ?? this.#options.defaultTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = jobSignal === undefined ? timeout : AbortSignal.any([jobSignal, timeout]);
    const started = performance.now();
    let output = "";
    const writer = this.#notifier.output(task.id, task.attempts);
    let providerName: string | undefined;
    try {
      const { provider, client, upstreamModel } = this.#providers.resolve(task.model);
      providerName = provider.name;
      const { prompt, systemPrompt } = await this.#graph.rendered(task);
      const answer = await client.chat(
        {
          model: upstreamModel,
          messages: messagesOf({ prompt, system_prompt: systemPrompt }),
          ...paramsOf(task),
        },
        {
          signal,
          requestId: task.request_id ?? undefined,
          stream: true,
          onDelta: (text) => {
            output += text;
            writer.append(text);
          },
        },
      );
      const usage = answer.usage;
      await this.#end(
        task,
        { latencyMs: answer.latencyMs, ttftMs: answer.ttftMs, provider: providerName, usage },
        {
          status: "completed",
          output: answer.content,
          totalTokens: usage?.totalTokens,
          responseModel: answer.responseModel,
          costUsd: usage === undefined ? undefined : this.#providers.costUsd(task.model, usage),
        },
        writer.finish(),
      );
      return { result: { outcome: "completed" }, usedTokens: usage?.totalTokens };
    } catch (error) {
      const latencyMs = performance.now() - started;
      await writer.finish();
      const measures = { latencyMs, ttftMs: undefined, provider: providerName, usage: undefined };
      if (jobSignal?.aborted && jobSignal.reason === ABORT_CANCELLED) {
        await this.#end(task, measures, { status: "cancelled", output, error: cancelledError() });
        return { result: { outcome: "cancelled" } };
      }
      if (jobSignal?.aborted && jobSignal.reason === ABORT_SHUTDOWN) {
        const shutdown = {
          code: "WORKER_SHUTDOWN",
          message: "the worker shut down; the task went back to the queue",
          httpStatus: undefined,
        };
        await this.#end(task, measures, {
          status: "queued",
          error: shutdown,
          attemptOutcome: "cancelled",
        });
        return { result: { outcome: "requeued", retryInMs: 0 } };
      }
      if (timeout.aborted) {
        const failure = {
          code: "TIMEOUT",
          message: `the attempt ran longer than the task's timeout of ${timeoutMs} ms`,
          httpStatus: undefined,
        };
        await this.#end(task, measures, { status: "failed", error: failure });
        return { result: { outcome: "failed" } };
      }
      const failure = failureOf(error);
      if (failure.code === "INTERNAL") log.error({ err: error }, "task run failed");
      // Output already seen cannot be unseen: a stream cut after tokens arrived is not retried.
      const delay =
        output === "" && this.#attemptsLeft(task) > 0
          ? retryDelayMs(error, task.attempts, this.#options.backoff)
          : undefined;
      if (
        error instanceof ProviderError &&
        (error.retryAfterMs !== undefined || error.code === "PROVIDER_RATE_LIMITED")
      ) {
        // The provider said "wait": hold back its other tasks too, rather than
        // let each of them spend an attempt learning the same thing.
        this.#providers.pause(task.model, error.retryAfterMs ?? delay ?? 0);
      }
      if (delay !== undefined) {
        log.info({ code: failure.code, delayMs: delay }, "attempt failed; retrying");
        const ended = await this.#end(task, measures, {
          status: "queued",
          error: failure,
          attemptOutcome: "failed",
        });
        return ended?.status === "cancelled"
          ? { result: { outcome: "cancelled" } }
          : { result: { outcome: "retrying", retryInMs: delay } };
      }
      await this.#end(task, measures, { status: "failed", error: failure });
      return { result: { outcome: "failed" } };
    }
  }

  #attemptsLeft(task: TaskRow): number {
    return task.max_attempts - (task.attempts - task.series_start_attempt + 1);
  }

  /**
   * Claims the task, or finds out why it cannot: a job that arrives before
   * its creator marked the task queued is claimed all the same (the claim
   * takes the task through queued), but a job may be a
   * stalled job re-delivered while the task still shows the lost attempt
   * running (that attempt is closed as WORKER_LOST), or may be stale.
   */
  async #claim(taskId: string, workerId: string): Promise<TaskRow | undefined> {
    for (let round = 0; round < 3; round++) {
      const { claimed, task: current } = await this.#claimInTurn({ taskId, workerId });
      if (claimed) {
        this.#notifier.changed([current]);
        return current;
      }
      switch (current?.status) {
        case "queued": {
          const expired = await expireQueuedTask(this.#db, taskId);
          if (expired !== undefined) {
            this.#notifier.changed([expired]);
            return undefined;
          }
          break;
        }
        case "running":
          this.#log.warn(
            { taskId, attempt: current.attempts },
            "job re-delivered for a running task; its worker is gone",
          );
          this.#notifier.changed([await releaseLostTask(this.#db, taskId)]);
          break;
        default:
          return undefined;
      }
    }
    return undefined;
  }

  async #claimAll(jobs: readonly { taskId: string; workerId: string }[]): Promise<ClaimResult[]> {
    const byWorker = new Map<string, Map<string, ClaimResult>>();
    for (const workerId of new Set(jobs.map((j) => j.workerId))) {
      const ids = jobs.filter((j) => j.workerId === workerId).map((j) => j.taskId);
      byWorker.set(workerId, await claimTasks(this.#db, ids, workerId));
    }
    const given = new Set<string>();
    return jobs.map(({ taskId, workerId }) => {
      const result = byWorker.get(workerId)?.get(taskId) ?? { claimed: false, task: undefined };
      if (!result.claimed) return result;
      // Two deliveries of one task in one turn: one claim, the other sees it running.
      if (given.has(taskId)) return { claimed: false, task: result.task };
      given.add(taskId);
      return result;
    });
  }

  async #end(
    task: TaskRow,
    measured:
      | {
          latencyMs: number;
          ttftMs: number | undefined;
          provider: string | undefined;
          usage: { promptTokens: number; completionTokens: number } | undefined;
        }
      | undefined,
    end: AttemptEnd,
    outputSent: Promise<void> = Promise.resolve(),
  ): Promise<EndedTask | undefined> {
    const measures: AttemptMeasures = {
      taskId: task.id,
      attempt: task.attempts,
      latencyMs: Math.round(measured?.latencyMs ?? 0),
      ttftMs: measured?.ttftMs === undefined ? undefined : Math.round(measured.ttftMs),
      promptTokens: measured?.usage?.promptTokens,
      completionTokens: measured?.usage?.completionTokens,
      provider: measured?.provider,
    };
    // Every delta goes out before the status that ends the attempt; the last
    // one may travel while the end is stored.
    const ending =
      end.status === "completed"
        ? this.#completeInTurn({ measures, end }).then((c) => c.ended)
        : endAttempt(this.#db, measures, end);
    const [ended] = await Promise.all([ending, outputSent]);
    this.#notifier.changed([ended]);
    await this.#graph.finished([ended]);
    if (ended === undefined) {
      this.#log.info(
        { taskId: task.id, attempt: task.attempts },
        "attempt no longer holds the task; result dropped",
      );
    }
    return ended;
  }
}

function messagesOf(task: Pick<TaskRow, "system_prompt" | "prompt">) {
  return [
    ...(task.system_prompt === ""
      ? []
      : [{ role: "system" as const, content: task.system_prompt }]),
    { role: "user" as const, content: task.prompt },
  ];
}

function paramsOf(task: Pick<TaskRow, "params">): TaskParamsJson {
  return task.params as TaskParamsJson;
}

function cancelledError(): TaskFailure {
  return { code: "CANCELLED", message: "cancelled while running", httpStatus: undefined };
}

function failureOf(error: unknown): TaskFailure {
  if (error instanceof ProviderError) {
    return { code: error.code, message: error.message, httpStatus: error.httpStatus };
  }
  if (error instanceof UnknownModelError) {
    return { code: "MODEL_NOT_FOUND", message: error.message, httpStatus: undefined };
  }
  return {
    code: "INTERNAL",
    message: "internal error while running the task",
    httpStatus: undefined,
  };
}
