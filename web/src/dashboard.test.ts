import { create } from "@bufbuild/protobuf";
import { GetTaskMetricsResponseSchema } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RANGE,
  formatCompact,
  formatPercent,
  metricSeries,
  metricTotals,
  RANGES,
  rangeById,
} from "./dashboard";

const metrics = create(GetTaskMetricsResponseSchema, {
  buckets: [
    {
      start: { seconds: 600n },
      completed: 3n,
      failed: 1n,
      totalTokens: 40n,
      costUsd: 0.5,
      latencyP50: { nanos: 250_000_000 },
      latencyP95: { seconds: 1n },
    },
    { start: { seconds: 660n } },
    { start: { seconds: 720n }, cancelled: 2n, totalTokens: 2n, costUsd: 0.25 },
  ],
});

describe("metricSeries", () => {
  it("gives one column per measure, with gaps where nothing was measured", () => {
    expect(metricSeries(metrics)).toEqual({
      times: [600, 660, 720],
      completed: [3, 0, 0],
      failed: [1, 0, 0],
      cancelled: [0, 0, 2],
      errorRate: [0.25, null, 0],
      p50Ms: [250, null, null],
      p95Ms: [1000, null, null],
      tokens: [40, 0, 2],
    });
  });
});

describe("metricTotals", () => {
  it("adds the buckets up; no error rate when nothing finished", () => {
    expect(metricTotals(metrics)).toEqual({
      finished: 6,
      completed: 3,
      failed: 1,
      cancelled: 2,
      errorRate: 1 / 6,
      tokens: 42,
      costUsd: 0.75,
    });
    expect(metricTotals(create(GetTaskMetricsResponseSchema, {})).errorRate).toBeUndefined();
  });
});

describe("ranges", () => {
  it("falls back to the default for an unknown or missing range", () => {
    expect(rangeById("6h").windowSeconds).toBe(21_600);
    expect(rangeById("bogus").id).toBe(DEFAULT_RANGE);
    expect(rangeById(null).id).toBe(DEFAULT_RANGE);
  });

  it("asks for at most about 60 buckets, within the server's limits", () => {
    for (const r of RANGES) {
      const buckets = r.windowSeconds / r.bucketSeconds;
      expect(Number.isInteger(buckets), r.id).toBe(true);
      expect(buckets, r.id).toBeLessThanOrEqual(60);
      expect(r.bucketSeconds, r.id).toBeGreaterThanOrEqual(10);
    }
  });
});

describe("formatting", () => {
  it("reads percentages and big counts briefly", () => {
    expect(formatPercent(0.25)).toBe("25%");
    expect(formatPercent(0.0123)).toBe("1.2%");
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(undefined)).toBe("—");
    expect(formatPercent(null)).toBe("—");
    expect(formatCompact(950)).toBe("950");
    expect(formatCompact(12_345)).toBe("12.3K");
  });
});
