import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { GetTaskMetricsResponse } from "@promptline/proto";

/** A time range the dashboard offers, with the bucket width that suits it. */
export interface DashboardRange {
  /** In the URL: `/dashboard?range=6h`. */
  id: string;
  label: string;
  windowSeconds: number;
  bucketSeconds: number;
}

/** About 60 points per chart: enough shape, few enough to read. */
export const RANGES: readonly DashboardRange[] = [
  { id: "15m", label: "Last 15 minutes", windowSeconds: 900, bucketSeconds: 15 },
  { id: "1h", label: "Last hour", windowSeconds: 3_600, bucketSeconds: 60 },
  { id: "6h", label: "Last 6 hours", windowSeconds: 21_600, bucketSeconds: 360 },
  { id: "24h", label: "Last 24 hours", windowSeconds: 86_400, bucketSeconds: 1_800 },
  { id: "7d", label: "Last 7 days", windowSeconds: 604_800, bucketSeconds: 10_800 },
];

export const DEFAULT_RANGE = "1h";

/** The range an id names; the default one for anything else. */
export function rangeById(id: string | null): DashboardRange {
  const found = RANGES.find((r) => r.id === id) ?? RANGES.find((r) => r.id === DEFAULT_RANGE);
  if (found === undefined) throw new Error(`RANGES has no ${DEFAULT_RANGE}`);
  return found;
}

/** The metrics as columns, ready for charts: one entry per bucket. */
export interface MetricSeries {
  /** Bucket starts, seconds since the epoch. */
  times: number[];
  completed: number[];
  failed: number[];
  cancelled: number[];
  /** Failed ÷ finished; null for a bucket where nothing finished. */
  errorRate: (number | null)[];
  /** Null where no task completed (no latency to report). */
  p50Ms: (number | null)[];
  p95Ms: (number | null)[];
  tokens: number[];
}

/** Totals over the whole window. */
export interface MetricTotals {
  finished: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Failed ÷ finished; undefined when nothing finished. */
  errorRate: number | undefined;
  tokens: number;
  costUsd: number;
}

/** Turns GetTaskMetrics' rows into chart columns. */
export function metricSeries(m: GetTaskMetricsResponse): MetricSeries {
  const out: MetricSeries = {
    times: [],
    completed: [],
    failed: [],
    cancelled: [],
    errorRate: [],
    p50Ms: [],
    p95Ms: [],
    tokens: [],
  };
  for (const b of m.buckets) {
    const completed = Number(b.completed);
    const failed = Number(b.failed);
    const finished = completed + failed + Number(b.cancelled);
    out.times.push(b.start === undefined ? 0 : timestampMs(b.start) / 1000);
    out.completed.push(completed);
    out.failed.push(failed);
    out.cancelled.push(Number(b.cancelled));
    out.errorRate.push(finished === 0 ? null : failed / finished);
    out.p50Ms.push(b.latencyP50 === undefined ? null : durationMs(b.latencyP50));
    out.p95Ms.push(b.latencyP95 === undefined ? null : durationMs(b.latencyP95));
    out.tokens.push(Number(b.totalTokens));
  }
  return out;
}

/** Adds up a window's buckets. */
export function metricTotals(m: GetTaskMetricsResponse): MetricTotals {
  const t = { completed: 0, failed: 0, cancelled: 0, tokens: 0, costUsd: 0 };
  for (const b of m.buckets) {
    t.completed += Number(b.completed);
    t.failed += Number(b.failed);
    t.cancelled += Number(b.cancelled);
    t.tokens += Number(b.totalTokens);
    t.costUsd += b.costUsd;
  }
  const finished = t.completed + t.failed + t.cancelled;
  return { ...t, finished, errorRate: finished === 0 ? undefined : t.failed / finished };
}

/** "12.5%", "0%", "—" for undefined/null; one decimal below 10%. */
export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  const pct = rate * 100;
  if (pct === 0) return "0%";
  return pct < 10 ? `${pct.toFixed(1)}%` : `${Math.round(pct)}%`;
}

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** A big count in few characters: "950", "12.3K", "4.1M". */
export function formatCompact(n: number): string {
  return compact.format(n);
}
