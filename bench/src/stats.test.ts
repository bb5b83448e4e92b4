import { describe, expect, it } from "vitest";
import { median, percentile, summarize } from "./stats.js";

describe("percentile (nearest rank)", () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it("picks an observed value, never an interpolation", () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });

  it("does not depend on input order and leaves the input alone", () => {
    const shuffled = [5, 1, 4, 2, 3];
    expect(percentile(shuffled, 60)).toBe(3);
    expect(shuffled).toEqual([5, 1, 4, 2, 3]);
  });

  it("with few samples, p99 is the largest", () => {
    expect(percentile([3, 9, 1], 99)).toBe(9);
    expect(percentile([7], 1)).toBe(7);
  });

  it("refuses nothing and nonsense", () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe("median", () => {
  it("is the middle of an odd count and the mean of the middle two of an even one", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10, 1, 4, 2])).toBe(3);
    expect(median([5])).toBe(5);
  });

  it("refuses an empty list", () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe("summarize", () => {
  it("reports count, percentiles, max and mean", () => {
    const s = summarize([4, 1, 3, 2, 10]);
    expect(s).toEqual({ count: 5, p50: 3, p90: 10, p99: 10, max: 10, mean: 4 });
  });
});
