/**
 * The few statistics a benchmark needs, defined once so every figure means
 * the same thing: nearest-rank percentiles (a reported p99 is a latency that
 * was actually observed, never an interpolation between two) and the median
 * of an odd number of repetitions.
 */

/**
 * The nearest-rank percentile `p` (0 < p ≤ 100) of `values`: the smallest
 * value that at least p % of the values are less than or equal to. Throws on
 * an empty list, because a percentile of nothing is a bug in the caller.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("percentile of no values");
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return at(sorted, rank - 1);
}

/**
 * The median: the middle value of an odd count, the mean of the two middle
 * values of an even one.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? at(sorted, mid) : (at(sorted, mid - 1) + at(sorted, mid)) / 2;
}

/** What a latency sample looks like in a report. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** p50/p90/p99/max/mean of a sample (milliseconds in, milliseconds out). */
export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) throw new RangeError("summary of no values");
  const sum = values.reduce((total, v) => total + v, 0);
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: Math.max(...values),
    mean: sum / values.length,
  };
}

function at(sorted: readonly number[], index: number): number {
  const value = sorted[index];
  if (value === undefined) throw new RangeError(`index ${index} outside ${sorted.length} values`);
  return value;
}
