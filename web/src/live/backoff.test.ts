import { describe, expect, it } from "vitest";
import { RETRY_MAX_MS, retryDelay } from "./backoff";

describe("retryDelay", () => {
  it("doubles from 1 s and stops growing at 30 s", () => {
    const top = { random: () => 0.999_999 };
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => retryDelay(n, top))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("jitters each delay down to half of its ceiling, never more than 30 s", () => {
    expect(retryDelay(1, { random: () => 0 })).toBe(500);
    expect(retryDelay(3, { random: () => 0.5 })).toBe(3000);
    for (let failures = 1; failures < 100; failures++) {
      const delay = retryDelay(failures);
      expect(delay).toBeGreaterThanOrEqual(500);
      expect(delay).toBeLessThanOrEqual(RETRY_MAX_MS);
    }
  });

  it("treats a count below 1 as the first retry and takes other bounds", () => {
    expect(retryDelay(0, { random: () => 0.999_999 })).toBe(1000);
    expect(retryDelay(4, { initialMs: 100, maxMs: 500, random: () => 0.999_999 })).toBe(500);
  });
});
