import { Code, ConnectError } from "@connectrpc/connect";
import { describeError } from "../errors";
import { retryDelay } from "./backoff";

/**
 * How a page is kept up to date: `connecting` until a stream's first message,
 * `live` while a stream delivers, `polling` after a stream failed (the page
 * then refetches every 2 s while the stream is retried).
 */
export type LiveMode = "connecting" | "live" | "polling";

/** The mode, and for `polling` why the stream is not used, in words for a tooltip. */
export interface LiveStatus {
  mode: LiveMode;
  reason?: string;
}

/** What to do after a message: read on, reconnect from the current cursor, or stop (all done). */
export type MessageVerdict = "continue" | "reconnect" | "done";

/** A proxy that buffers a stream delivers nothing; this long without a first message counts as that. */
export const FIRST_MESSAGE_TIMEOUT_MS = 5000;

/** Options for {@link runWatchLoop}. */
export interface WatchLoopOptions<T> {
  /**
   * Opens one stream. Called again for every reconnect, so a resumable watch
   * reads its latest cursor here.
   */
  open: (signal: AbortSignal) => AsyncIterable<T>;
  onMessage: (message: T) => MessageVerdict;
  /** Told each time the mode changes (not repeated for the same mode). */
  onStatus: (status: LiveStatus) => void;
  /** Called at the first message of every connection: anything sent while disconnected is now lost. */
  onConnected?: () => void;
  /** Called when retrying can't help (see `isFatal`); the loop has ended. */
  onFatal?: (err: unknown) => void;
  /** Ends the loop and the open stream. */
  signal: AbortSignal;
  firstMessageTimeoutMs?: number;
  /**
   * With a server that sends heartbeats: a connection quiet for this long is
   * treated as dead (a laptop that slept, a half-open TCP connection).
   */
  idleTimeoutMs?: number;
  /** Delay before reconnect number `failures` (1, 2, …); {@link retryDelay} by default. */
  retryDelay?: (failures: number) => number;
  /** Errors that retrying can't fix; by default NotFound and InvalidArgument. */
  isFatal?: (err: unknown) => boolean;
}

/**
 * Runs a server stream for as long as `signal` allows, reconnecting after
 * every failure (an error, an early end, no first message in time) with
 * jittered exponential backoff, and reporting whether the page is live or
 * should poll. Never rejects.
 */
export async function runWatchLoop<T>(options: WatchLoopOptions<T>): Promise<void> {
  const {
    signal,
    firstMessageTimeoutMs = FIRST_MESSAGE_TIMEOUT_MS,
    idleTimeoutMs,
    retryDelay: delayFor = retryDelay,
    isFatal = isFatalWatchError,
  } = options;
  let mode: LiveMode = "connecting";
  const setStatus = (status: LiveStatus) => {
    if (status.mode === mode) return;
    mode = status.mode;
    options.onStatus(status);
  };
  let failures = 0;
  while (!signal.aborted) {
    const outcome = await connectOnce(options, {
      firstMessageTimeoutMs,
      idleTimeoutMs,
      onFirst: () => {
        failures = 0;
        setStatus({ mode: "live" });
        options.onConnected?.();
      },
    });
    if (signal.aborted || outcome.kind === "done") return;
    if (outcome.kind === "failed" && isFatal(outcome.error)) {
      options.onFatal?.(outcome.error);
      return;
    }
    failures++;
    if (outcome.kind !== "reconnect") setStatus({ mode: "polling", reason: outcome.reason });
    await sleep(delayFor(failures), signal);
  }
}

type Outcome =
  | { kind: "done" }
  | { kind: "reconnect" }
  | { kind: "failed"; reason: string; error?: unknown };

async function connectOnce<T>(
  options: WatchLoopOptions<T>,
  timing: { firstMessageTimeoutMs: number; idleTimeoutMs: number | undefined; onFirst: () => void },
): Promise<Outcome> {
  const attempt = new AbortController();
  const abort = () => attempt.abort();
  options.signal.addEventListener("abort", abort, { once: true });
  let stalled: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number | undefined, reason: string) => {
    clearTimeout(timer);
    if (ms === undefined) return;
    timer = setTimeout(() => {
      stalled = reason;
      attempt.abort();
    }, ms);
  };
  arm(
    timing.firstMessageTimeoutMs,
    `No update arrived within ${timing.firstMessageTimeoutMs / 1000} s; a proxy may be buffering the stream.`,
  );
  let received = false;
  try {
    for await (const message of options.open(attempt.signal)) {
      if (!received) {
        received = true;
        timing.onFirst();
      }
      arm(timing.idleTimeoutMs, "The stream went quiet.");
      const verdict = options.onMessage(message);
      if (verdict === "done") return { kind: "done" };
      if (verdict === "reconnect") return { kind: "reconnect" };
    }
    return { kind: "failed", reason: "The stream ended early." };
  } catch (err) {
    if (stalled !== undefined) return { kind: "failed", reason: stalled };
    return { kind: "failed", reason: describeError(err).title, error: err };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", abort);
    // Breaking out of the loop leaves the request open; this ends it.
    attempt.abort();
  }
}

/** True for errors a retry can't fix: the task is gone, or the request is wrong. */
export function isFatalWatchError(err: unknown): boolean {
  return (
    err instanceof ConnectError && (err.code === Code.NotFound || err.code === Code.InvalidArgument)
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
