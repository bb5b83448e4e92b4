/** Options for {@link retryDelay}. */
export interface RetryDelayOptions {
  /** Delay before the first retry, before jitter. */
  initialMs?: number;
  /** The most any one delay can be. */
  maxMs?: number;
  /** A number in [0, 1); `Math.random` unless a test pins it. */
  random?: () => number;
}

/** The first retry of a stream waits about 1 s … */
export const RETRY_INITIAL_MS = 1000;
/** … and no retry waits longer than 30 s. */
export const RETRY_MAX_MS = 30_000;

/**
 * How long to wait before reconnecting after `failures` failed attempts in a
 * row (1 for the first): doubling from `initialMs` up to `maxMs`, then scaled
 * by a random factor in [0.5, 1) so that many open pages whose stream broke at
 * the same moment (a server restart) don't all come back at the same moment.
 */
export function retryDelay(failures: number, options: RetryDelayOptions = {}): number {
  const { initialMs = RETRY_INITIAL_MS, maxMs = RETRY_MAX_MS, random = Math.random } = options;
  const exponent = Math.max(0, Math.min(failures - 1, 30));
  const ceiling = Math.min(maxMs, initialMs * 2 ** exponent);
  return Math.round(ceiling * (0.5 + random() / 2));
}
