import { epochMs } from "../context.js";

/** What the bench needs from a baseline: its two workloads, side by side with Promptline's. */
export interface BaselineSystem {
  /** Short id used in figure ids and the report: `bullmq`, `bullmq_pg`, `graphile`. */
  readonly id: string;
  readonly label: string;
  /**
   * Adds `count` no-op jobs in batches (as many calls in flight as
   * Promptline's scenario uses) and resolves when the worker has finished
   * them all.
   */
  runMany(count: number): Promise<BatchTiming>;
  /** Adds one job and resolves when the worker reports it done: its latency in ms. */
  runOne(): Promise<number>;
}

export interface BatchTiming {
  /** Epoch ms just before the first add. */
  startedAt: number;
  /** Epoch ms when the last job was done (and, where it matters, its completion written). */
  finishedAt: number;
  created: number;
  completed: number;
}

/**
 * Counts completions from a worker's events and remembers when the last one
 * happened. It listens before any job is added, so no completion goes
 * unseen, and `until(n)` may be asked after the jobs were added: it resolves
 * with the time of the n-th completion, past or future.
 */
export class CompletionCounter {
  #count = 0;
  #lastAt = 0;
  #failure: Error | undefined;
  #waiters: Array<{ target: number; resolve: (at: number) => void; reject: (e: Error) => void }> =
    [];

  get count(): number {
    return this.#count;
  }

  /** Called by the worker's completion event. */
  tick(): void {
    this.#count += 1;
    this.#lastAt = epochMs();
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#count < w.target) return true;
      w.resolve(this.#lastAt);
      return false;
    });
  }

  /** A job failed: every wait ends with this error, since the run no longer measures no-op jobs. */
  fail(error: Error): void {
    this.#failure ??= error;
    for (const w of this.#waiters) w.reject(error);
    this.#waiters = [];
  }

  /** Resolves with the time of the completion that brought the count to `target` (the latest so far, if already reached). */
  until(target: number, timeoutMs: number): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#count >= target) return Promise.resolve(this.#lastAt);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`only ${this.#count} of ${target} jobs completed in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        target,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}

/** Generous: a baseline that stalls fails the run instead of hanging it. */
export function timeoutFor(count: number): number {
  return 60_000 + count * 5;
}

/** Splits 0…count-1 into batches of at most `size`. */
export function batchesOf(count: number, size: number): number[] {
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= size) sizes.push(Math.min(size, left));
  return sizes;
}
