import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { withQuerySignal } from "../db/abort.js";

export interface DeadlineOptions {
  /** Longest a unary call may run; a caller's shorter deadline still applies. */
  maxUnaryMs: number;
}

/**
 * Makes deadlines binding. Connect turns the caller's `grpc-timeout` /
 * `connect-timeout-ms` into `ctx.signal`, but still answers with whatever a
 * handler returns after it fired. Here:
 *
 * - a unary call also gets the server's cap, `maxUnaryMs`: a caller's longer
 *   (or missing) deadline is shortened to it, not refused as Connect's
 *   `maxTimeoutMs` router option would refuse it;
 * - a call whose signal fires answers DeadlineExceeded at once (Canceled if the
 *   caller went away); the handler sees the aborted `ctx.signal` and should
 *   stop, and a PostgreSQL query it has in flight is cancelled, so a
 *   statement waiting on a lock frees its connection; other work that
 *   ignores the signal finishes unseen;
 * - a server stream is not capped (a watch lives as long as its caller
 *   wants), but one that reaches the caller's deadline ends with
 *   DeadlineExceeded instead of a clean end.
 */
export function deadlineInterceptor(options: DeadlineOptions): Interceptor {
  return (next) => async (req) => {
    if (req.stream) {
      const res = await untilAborted(next(req), req.signal);
      return res.stream ? { ...res, message: endWhenAborted(res.message, req.signal) } : res;
    }
    // One controller for both the caller's signal and the server's cap
    // (AbortSignal.any costs more than the two listeners it saves writing).
    const combined = new AbortController();
    const onCallerAbort = () => combined.abort(req.signal.reason);
    if (req.signal.aborted) onCallerAbort();
    else req.signal.addEventListener("abort", onCallerAbort, { once: true });
    const timer = setTimeout(
      () =>
        combined.abort(
          new ConnectError(
            `the request ran longer than the server's limit of ${options.maxUnaryMs} ms`,
            Code.DeadlineExceeded,
          ),
        ),
      options.maxUnaryMs,
    );
    const signal = combined.signal;
    try {
      // The handler's database queries end with the call, not after it (see withQuerySignal).
      return await untilAborted(
        withQuerySignal(signal, () => next({ ...req, signal })),
        signal,
      );
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onCallerAbort);
    }
  };
}

/** `work`, or the signal's reason as a ConnectError if it fires first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal.reason));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    // A late result or failure of abandoned work settles nothing (and is no unhandled rejection).
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function* endWhenAborted<T>(messages: AsyncIterable<T>, signal: AbortSignal) {
  const iterator = messages[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await untilAborted(iterator.next(), signal);
      if (next.done === true) {
        finished = true;
        break;
      }
      yield next.value;
    }
  } finally {
    // Stop the handler's generator unless it ended by itself; it may be
    // suspended in an await, so this is not waited for.
    if (!finished) iterator.return?.().catch(() => undefined);
  }
  // A handler that ends its stream because the signal fired ends it on time;
  // it still did not finish, and the caller is told why.
  if (signal.aborted) throw abortError(signal.reason);
}

function abortError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the request was cancelled", Code.Canceled, undefined, undefined, reason);
}
