/** Per-provider limits, so one process never sends a provider more than it allows. */
export interface LimiterOptions {
  /** Requests in flight at once; unset means no limit. */
  maxConcurrency?: number | undefined;
  /** Requests started per window (a minute by default); unset means no limit. */
  requestsPerMinute?: number | undefined;
  /** Estimated tokens (prompt and completion) of the requests started per window; unset means no limit. */
  tokensPerMinute?: number | undefined;
  /** The rate window; only tests shorten it. */
  windowMs?: number | undefined;
  /** Milliseconds on a monotonic clock; tests inject one, `performance.now` otherwise. */
  now?: (() => number) | undefined;
  /** Spreads deferred callers over their slot; tests inject one, `Math.random` otherwise. */
  random?: (() => number) | undefined;
}

/** Permission to send one request. Release it when the request is done, however it ended. */
export interface Permit {
  /**
   * Frees the concurrency slot. `actualTokens` (the usage the provider
   * reported) replaces the estimate in the tokens-per-minute window; without
   * it the estimate stands. Releasing twice is a no-op.
   */
  release(actualTokens?: number): void;
}

/** No permit now: try again after `retryInMs`, when one is expected to be free. */
export interface Deferral {
  retryInMs: number;
}

/** What {@link Limiter.tryAcquire} answers; tell them apart with `"retryInMs" in result`. */
export type PermitResult = Permit | Deferral;

/** What a limiter holds now, for logs and metrics. */
export interface LimiterStats {
  active: number;
  requestsInWindow: number;
  tokensInWindow: number;
  /** Zero unless {@link Limiter.pause} holds every permit back. */
  pausedForMs: number;
}

/**
 * Hands out permits without ever waiting. A worker asks before it claims a
 * task; when the answer is a deferral it hands the job back to the queue and
 * its slot serves another provider meanwhile, so one saturated provider
 * cannot occupy every worker slot.
 */
export interface Limiter {
  /** A permit if every limit allows one more request of `estimatedTokens` now, else when to ask again. */
  tryAcquire(estimatedTokens?: number): PermitResult;
  /**
   * No permits for `ms` (capped at {@link MAX_PAUSE_MS}), e.g. a provider's
   * `Retry-After` on a 429. A longer pause extends the current one; a
   * shorter one does not shorten it. Requests in flight are not affected.
   */
  pause(ms: number): void;
  stats(): LimiterStats;
}

/** The soonest a deferred caller is told to come back: a retry is a queue round trip. */
export const MIN_RETRY_MS = 25;
/** The longest pause honoured, like the retry policy's cap on `Retry-After`. */
export const MAX_PAUSE_MS = 300_000;
/** How far past the first free slot deferred callers are spread at most. */
export const MAX_SPREAD_MS = 60_000;
/** What a request is assumed to hold its slot for until some have finished. */
export const INITIAL_HOLD_MS = 1_000;

/**
 * Concurrency, sliding-window requests and tokens per window, and pauses.
 * These limits are per process: with N workers a provider sees up to N times
 * them, which is what a per-worker share of a provider's quota needs.
 *
 * A deferral does not just say "later": callers deferred together are given
 * successive slots, one per expected free permit (requests per minute, tokens
 * per minute, or the observed time a request holds its slot), so a crowd of
 * deferred jobs comes back spread out at the pace the provider accepts them,
 * instead of all at once only for most to be deferred again.
 */
export function createLimiter(options: LimiterOptions = {}): Limiter {
  return new WindowLimiter(options);
}

interface Started {
  at: number;
  tokens: number;
  /** False once the entry has left the window, so a late correction changes nothing. */
  inWindow: boolean;
}

class WindowLimiter implements Limiter {
  readonly #maxConcurrency: number;
  readonly #requestsPerWindow: number;
  readonly #tokensPerWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #holds = new Set<{ at: number }>();
  #window: Started[] = [];
  #windowTokens = 0;
  #pausedUntil = Number.NEGATIVE_INFINITY;
  /** Where the next deferred caller's slot starts. */
  #nextSlot = Number.NEGATIVE_INFINITY;
  /** Moving average of how long a permit is held. */
  #holdMs = INITIAL_HOLD_MS;

  constructor(options: LimiterOptions) {
    this.#maxConcurrency = positiveOrInfinity(options.maxConcurrency);
    this.#requestsPerWindow = positiveOrInfinity(options.requestsPerMinute);
    this.#tokensPerWindow = positiveOrInfinity(options.tokensPerMinute);
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  tryAcquire(estimatedTokens = 0): PermitResult {
    const tokens = Math.max(0, estimatedTokens);
    const now = this.#now();
    this.#prune(now);
    const freeAt = this.#freeAt(now, tokens);
    if (freeAt === undefined) return this.#grant(now, tokens);

    const interval = Math.max(MIN_RETRY_MS, this.#slotInterval(tokens));
    const slot = Math.min(Math.max(freeAt, this.#nextSlot), freeAt + MAX_SPREAD_MS);
    this.#nextSlot = slot + interval;
    const retryInMs = slot - now + this.#random() * interval;
    return { retryInMs: Math.max(MIN_RETRY_MS, Math.ceil(retryInMs)) };
  }

  pause(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.#now() + Math.min(ms, MAX_PAUSE_MS);
    this.#pausedUntil = Math.max(this.#pausedUntil, until);
  }

  stats(): LimiterStats {
    const now = this.#now();
    this.#prune(now);
    return {
      active: this.#holds.size,
      requestsInWindow: this.#window.length,
      tokensInWindow: this.#windowTokens,
      pausedForMs: Math.max(0, this.#pausedUntil - now),
    };
  }

  /** When every limit allows the request, or undefined when they do now. */
  #freeAt(now: number, tokens: number): number | undefined {
    let freeAt = now;
    if (this.#pausedUntil > now) freeAt = this.#pausedUntil;
    if (this.#holds.size >= this.#maxConcurrency) {
      freeAt = Math.max(freeAt, this.#expectedRelease(now));
    }
    if (this.#window.length >= this.#requestsPerWindow) {
      const leaving = this.#window[this.#window.length - this.#requestsPerWindow];
      if (leaving !== undefined) freeAt = Math.max(freeAt, leaving.at + this.#windowMs);
    }
    if (this.#windowTokens > 0 && this.#windowTokens + tokens > this.#tokensPerWindow) {
      freeAt = Math.max(freeAt, this.#tokensFreeAt(tokens));
    }
    return freeAt > now ? freeAt : undefined;
  }

  /** The soonest a slot is expected back; a request past the usual hold time is given a little longer. */
  #expectedRelease(now: number): number {
    let soonest = Number.POSITIVE_INFINITY;
    for (const hold of this.#holds) {
      soonest = Math.min(soonest, Math.max(hold.at + this.#holdMs, now + this.#holdMs / 4));
    }
    return Math.max(soonest, now + MIN_RETRY_MS);
  }

  /** When enough tokens have left the window; a request larger than the whole budget waits for an empty window. */
  #tokensFreeAt(tokens: number): number {
    let remaining = this.#windowTokens;
    let at = Number.NEGATIVE_INFINITY;
    for (const started of this.#window) {
      remaining -= started.tokens;
      at = started.at + this.#windowMs;
      if (remaining <= 0 || remaining + tokens <= this.#tokensPerWindow) break;
    }
    return at;
  }

  /** How often a permit is expected to come free under the tightest configured limit. */
  #slotInterval(tokens: number): number {
    let interval = 0;
    if (Number.isFinite(this.#maxConcurrency)) interval = this.#holdMs / this.#maxConcurrency;
    if (Number.isFinite(this.#requestsPerWindow)) {
      interval = Math.max(interval, this.#windowMs / this.#requestsPerWindow);
    }
    if (Number.isFinite(this.#tokensPerWindow)) {
      interval = Math.max(interval, (this.#windowMs * Math.max(tokens, 1)) / this.#tokensPerWindow);
    }
    return interval;
  }

  #grant(now: number, tokens: number): Permit {
    const hold = { at: now };
    this.#holds.add(hold);
    let started: Started | undefined;
    if (Number.isFinite(this.#requestsPerWindow) || Number.isFinite(this.#tokensPerWindow)) {
      started = { at: now, tokens, inWindow: true };
      this.#window.push(started);
      this.#windowTokens += tokens;
    }
    return {
      release: (actualTokens?: number) => {
        if (!this.#holds.delete(hold)) return;
        this.#holdMs = 0.8 * this.#holdMs + 0.2 * Math.max(0, this.#now() - hold.at);
        if (started?.inWindow && actualTokens !== undefined && actualTokens >= 0) {
          this.#windowTokens += actualTokens - started.tokens;
          started.tokens = actualTokens;
        }
      },
    };
  }

  #prune(now: number): void {
    const horizon = now - this.#windowMs;
    let gone = 0;
    for (const started of this.#window) {
      if (started.at > horizon) break;
      started.inWindow = false;
      this.#windowTokens -= started.tokens;
      gone++;
    }
    if (gone > 0) this.#window = this.#window.slice(gone);
    if (this.#window.length === 0) this.#windowTokens = 0;
  }
}

function positiveOrInfinity(value: number | undefined): number {
  return value !== undefined && value > 0 ? value : Number.POSITIVE_INFINITY;
}
