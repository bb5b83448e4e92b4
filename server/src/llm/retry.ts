import { ProviderError } from "./errors.js";

/** Shape of the backoff between attempts of one task. */
export interface BackoffOptions {
  /** The ceiling of the first retry's delay. */
  baseMs?: number;
  /** The largest ceiling, however many attempts failed. */
  maxMs?: number;
  /** The longest `Retry-After` honoured; a provider asking for an hour should not park a task for an hour. */
  maxRetryAfterMs?: number;
  /** Injected by tests; `Math.random` otherwise. */
  random?: () => number;
}

/**
 * How long to wait before the next attempt, or undefined when the error is
 * not worth retrying (not a {@link ProviderError}, or one whose code says no).
 *
 * Exponential backoff with full jitter (a uniform delay below
 * `min(maxMs, baseMs · 2^(attempt-1))`), so a burst of tasks that failed
 * together does not retry together; never sooner than the provider's
 * `Retry-After`. `attempt` counts the attempts already made, from 1.
 */
export function retryDelayMs(
  error: unknown,
  attempt: number,
  options: BackoffOptions = {},
): number | undefined {
  if (!(error instanceof ProviderError) || !error.retryable) return undefined;
  const baseMs = options.baseMs ?? 1_000;
  const maxMs = options.maxMs ?? 60_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const asked = Math.min(error.retryAfterMs ?? 0, options.maxRetryAfterMs ?? 300_000);
  return Math.max(jittered, asked);
}
