import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Task, TaskEvent } from "@promptline/proto";
import { toMs } from "./format";

/**
 * What to do about a task's error code, in a sentence. The codes are the
 * server's stable TaskError codes; an unknown one gets no hint rather than a
 * wrong one.
 */
const hints: Record<string, string> = {
  PROVIDER_UNAUTHORIZED:
    "The provider refused the API key. Check NVIDIA_API_KEY (or the provider's key) on the server, then retry.",
  PROVIDER_FORBIDDEN:
    "The key is valid but may not use this model. Pick another model or ask for access.",
  PROVIDER_PAYMENT_REQUIRED: "The provider account is out of credit. Top it up, then retry.",
  PROVIDER_RATE_LIMITED:
    "The provider kept rate limiting after every retry. Wait a minute and retry, or lower the worker concurrency.",
  PROVIDER_BAD_REQUEST:
    "The provider rejected the request. A parameter may not be supported by this model: duplicate the task and change it.",
  PROVIDER_UNPROCESSABLE:
    "The provider could not process this prompt or its parameters. Duplicate the task and change them.",
  PROVIDER_NOT_FOUND: "The provider doesn't know this model. Pick one from the model list.",
  MODEL_NOT_FOUND: "No provider serves this model. Pick one from the model list.",
  PROVIDER_SERVER_ERROR:
    "The provider failed on its side, on every attempt. Retry later; it is often temporary.",
  PROVIDER_UNAVAILABLE: "The provider was unavailable on every attempt. Retry later.",
  PROVIDER_CONNECTION:
    "Promptline could not reach the provider. Check the server's network and the provider's URL, then retry.",
  PROVIDER_TIMEOUT:
    "The provider took too long to answer. Retry, or lower max tokens so the answer is shorter.",
  PROVIDER_STREAM_INTERRUPTED: "The answer stopped half-way. Retrying usually works.",
  PROVIDER_BAD_RESPONSE: "The provider sent an answer Promptline couldn't read. Retry later.",
  TIMEOUT:
    "An attempt ran longer than the task's time limit. Retry, or lower max tokens so the answer is shorter.",
  EXPIRED:
    "The task waited in the queue longer than its queue TTL. Retry it when workers are free.",
  WORKER_LOST:
    "The worker running it stopped (crash or restart) on its last attempt. Retrying is safe.",
  WORKER_SHUTDOWN: "The worker was shutting down. Retrying is safe.",
  UPSTREAM_FAILED:
    "A task this one waits for failed or was cancelled. Fix and retry that one; this one follows.",
  CANCELLED: "Someone cancelled it. Retry to run it again.",
  INTERNAL:
    "Promptline hit an internal error. Retry, and report it with the request id if it persists.",
};

/** A next step for an error code, or undefined when there is nothing useful to say. */
export function errorHint(code: string): string | undefined {
  return hints[code];
}

/**
 * Output speed of the last attempt: completion tokens over the time spent
 * writing them (latency minus time to first token). Undefined when a figure
 * is missing or the writing took no measurable time.
 */
export function tokensPerSecond(task: Task): number | undefined {
  const tokens = task.usage?.completionTokens ?? 0;
  const latency = toMs(task.latency);
  if (tokens <= 0 || latency === undefined) return undefined;
  const writingMs = latency - (toMs(task.timeToFirstToken) ?? 0);
  if (writingMs <= 0) return undefined;
  return tokens / (writingMs / 1000);
}

/** One step of a task's history, with how long the task stayed in the state it entered. */
export interface TimelineStep {
  event: TaskEvent;
  at: number | undefined;
  /** Time until the next step, or until `now` for the current state of a live task. */
  stayedMs: number | undefined;
  /** True for the last step of a task that can still change: the stay is still counting. */
  ongoing: boolean;
}

/**
 * The status events in order, each with the time spent in the state it
 * entered: the durations a person asks about ("waited 3 s in the queue,
 * ran 12 s").
 */
export function timeline(
  events: readonly TaskEvent[],
  options: { now: number; active: boolean },
): TimelineStep[] {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  return sorted.map((event, i) => {
    const at = event.at === undefined ? undefined : timestampMs(event.at);
    const next = sorted[i + 1]?.at;
    const last = i === sorted.length - 1;
    const end =
      next !== undefined ? timestampMs(next) : last && options.active ? options.now : undefined;
    return {
      event,
      at,
      stayedMs: at === undefined || end === undefined ? undefined : Math.max(0, end - at),
      ongoing: last && options.active,
    };
  });
}
