/** Per-provider limits, so one process never sends a provider more than it allows. */
export interface LimiterOptions {
  /** Requests in flight at once; unset means no limit. */
  maxConcurrency?: number | undefined;
  /** Requests started per window (a minute by default); unset means no limit. */
  requestsPerMinute?: number | undefined;
  /** The rate window; only tests shorten it. */
  windowMs?: number | undefined;
}

/** Hands out permission to start a request; call the returned function when it is done. */
export interface Limiter {
  /**
   * Resolves once a request may start, in arrival order. Rejects with the
   * signal's reason if it aborts while waiting, so a cancelled task never
   * holds a place in line.
   */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Requests running and waiting now. */
  stats(): { active: number; waiting: number };
}

interface Waiter {
  resolve(release: () => void): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A FIFO limiter for concurrency and a sliding-window request rate. These
 * limits are per process: with N workers a provider sees up to N times them,
 * which is what a per-worker share of a provider's quota needs.
 */
export function createLimiter(options: LimiterOptions): Limiter {
  return new WindowLimiter(options);
}

class WindowLimiter implements Limiter {
  readonly #maxConcurrency: number;
  readonly #perWindow: number;
  readonly #windowMs: number;
  #active = 0;
  #starts: number[] = [];
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LimiterOptions) {
    this.#maxConcurrency = positiveOrInfinity(options.maxConcurrency);
    this.#perWindow = positiveOrInfinity(options.requestsPerMinute);
    this.#windowMs = options.windowMs ?? 60_000;
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiters.length === 0 && this.#canStart()) return Promise.resolve(this.#start());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(signal?.reason);
          this.#drain();
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#drain();
    });
  }

  stats() {
    return { active: this.#active, waiting: this.#waiters.length };
  }

  #canStart(): boolean {
    if (this.#active >= this.#maxConcurrency) return false;
    if (this.#perWindow === Number.POSITIVE_INFINITY) return true;
    const horizon = performance.now() - this.#windowMs;
    while (this.#starts.length > 0 && (this.#starts[0] ?? 0) <= horizon) this.#starts.shift();
    return this.#starts.length < this.#perWindow;
  }

  #start(): () => void {
    this.#active++;
    if (this.#perWindow !== Number.POSITIVE_INFINITY) this.#starts.push(performance.now());
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#drain();
    };
  }

  #drain(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#waiters.length > 0 && this.#canStart()) {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) break;
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#start());
    }
    const oldest = this.#starts[0];
    if (this.#waiters.length > 0 && this.#active < this.#maxConcurrency && oldest !== undefined) {
      const wait = Math.max(1, oldest + this.#windowMs - performance.now());
      this.#timer = setTimeout(() => this.#drain(), wait);
    }
  }
}

function positiveOrInfinity(value: number | undefined): number {
  return value !== undefined && value > 0 ? value : Number.POSITIVE_INFINITY;
}
