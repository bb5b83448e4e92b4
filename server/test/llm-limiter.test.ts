import { describe, expect, it } from "vitest";
import {
  createLimiter,
  type Deferral,
  INITIAL_HOLD_MS,
  type LimiterOptions,
  MAX_PAUSE_MS,
  MIN_RETRY_MS,
  type Permit,
  type PermitResult,
} from "../src/llm/limiter.js";

/** A limiter on a clock the test moves by hand, with no jitter unless asked. */
function limiterAt(options: LimiterOptions = {}) {
  const clock = { now: 1_000_000 };
  const limiter = createLimiter({ now: () => clock.now, random: () => 0, ...options });
  return { limiter, clock };
}

function permit(result: PermitResult): Permit {
  if ("retryInMs" in result) throw new Error(`deferred for ${result.retryInMs} ms`);
  return result;
}

function deferral(result: PermitResult): number {
  if (!("retryInMs" in result)) throw new Error("got a permit");
  return (result satisfies Deferral).retryInMs;
}

describe("tryAcquire", () => {
  it("grants anything when no limit is set", () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 1_000; i++) permit(limiter.tryAcquire(1_000_000));
    expect(limiter.stats()).toMatchObject({ active: 1_000, requestsInWindow: 0 });
  });

  it("grants maxConcurrency permits, defers the next, and grants again after a release", () => {
    const { limiter } = limiterAt({ maxConcurrency: 2 });
    const a = permit(limiter.tryAcquire());
    permit(limiter.tryAcquire());
    deferral(limiter.tryAcquire());
    expect(limiter.stats().active).toBe(2);
    a.release();
    a.release();
    expect(limiter.stats().active).toBe(1);
    permit(limiter.tryAcquire());
    deferral(limiter.tryAcquire());
  });

  it("expects a slot back after the usual hold time, learned from releases", () => {
    const { limiter, clock } = limiterAt({ maxConcurrency: 1 });
    const first = permit(limiter.tryAcquire());
    expect(deferral(limiter.tryAcquire())).toBe(INITIAL_HOLD_MS);
    clock.now += 10_000;
    first.release();
    // The average moved from 1 s towards the 10 s the request took.
    const second = permit(limiter.tryAcquire());
    expect(deferral(limiter.tryAcquire())).toBe(0.8 * 1_000 + 0.2 * 10_000);
    // Long past its expected end, a request is given a quarter of the hold time more, not 0 ms.
    clock.now += 60_000;
    const retry = deferral(limiter.tryAcquire());
    expect(retry).toBeGreaterThanOrEqual(2_800 / 4);
    second.release();
    permit(limiter.tryAcquire());
  });

  it("starts at most requestsPerMinute per sliding window", () => {
    const { limiter, clock } = limiterAt({ requestsPerMinute: 3 });
    permit(limiter.tryAcquire()).release();
    clock.now += 10_000;
    permit(limiter.tryAcquire()).release();
    permit(limiter.tryAcquire()).release();
    // The window holds starts at 0 s, 10 s, 10 s: the first leaves at 60 s, 50 s from now.
    expect(deferral(limiter.tryAcquire())).toBe(50_000);
    clock.now += 49_999;
    deferral(limiter.tryAcquire());
    clock.now += 1;
    permit(limiter.tryAcquire());
    deferral(limiter.tryAcquire());
    expect(limiter.stats().requestsInWindow).toBe(3);
  });

  it("counts estimated tokens per window and corrects them with the real usage", () => {
    const { limiter, clock } = limiterAt({ tokensPerMinute: 1_000 });
    const a = permit(limiter.tryAcquire(600));
    clock.now += 5_000;
    expect(deferral(limiter.tryAcquire(500))).toBe(55_000);
    permit(limiter.tryAcquire(400)).release();
    expect(limiter.stats().tokensInWindow).toBe(1_000);
    // The first request used far less than estimated: its real count frees room at once.
    a.release(100);
    expect(limiter.stats().tokensInWindow).toBe(500);
    permit(limiter.tryAcquire(500));
    deferral(limiter.tryAcquire(1));
  });

  it("waits for enough tokens to leave the window, oldest first", () => {
    const { limiter, clock } = limiterAt({ tokensPerMinute: 1_000 });
    permit(limiter.tryAcquire(300));
    clock.now += 1_000;
    permit(limiter.tryAcquire(300));
    clock.now += 1_000;
    permit(limiter.tryAcquire(300));
    // 900 in use; 700 more fit once the first two have left (at 60 s and 61 s from the start).
    expect(deferral(limiter.tryAcquire(700))).toBe(59_000);
  });

  it("lets a request larger than the whole budget through an empty window only", () => {
    const { limiter, clock } = limiterAt({ tokensPerMinute: 1_000 });
    permit(limiter.tryAcquire(5_000)).release(4_000);
    clock.now += 1_000;
    expect(deferral(limiter.tryAcquire(5_000))).toBe(59_000);
    expect(deferral(limiter.tryAcquire(10))).toBeGreaterThan(59_000);
    clock.now += 59_000;
    permit(limiter.tryAcquire(5_000));
  });

  it("ignores a usage correction for a request that has left the window", () => {
    const { limiter, clock } = limiterAt({ tokensPerMinute: 1_000 });
    const old = permit(limiter.tryAcquire(500));
    clock.now += 60_000;
    permit(limiter.tryAcquire(200));
    old.release(900);
    expect(limiter.stats().tokensInWindow).toBe(200);
  });

  it("spreads callers deferred together over successive slots, with jitter inside each", () => {
    const clock = { now: 0 };
    let random = 0;
    const limiter = createLimiter({
      requestsPerMinute: 600,
      now: () => clock.now,
      random: () => random,
    });
    for (let i = 0; i < 600; i++) permit(limiter.tryAcquire());
    // One permit frees every 100 ms from 60 s on: each deferred caller gets the next one.
    const retries = [0, 1, 2, 3].map(() => deferral(limiter.tryAcquire()));
    expect(retries).toEqual([60_000, 60_100, 60_200, 60_300]);
    random = 0.5;
    expect(deferral(limiter.tryAcquire())).toBe(60_450);
  });

  it("never tells a caller to come back sooner than the floor", () => {
    const { limiter, clock } = limiterAt({ requestsPerMinute: 1 });
    permit(limiter.tryAcquire());
    clock.now += 60_000 - 1;
    expect(deferral(limiter.tryAcquire())).toBe(MIN_RETRY_MS);
  });
});

describe("pause", () => {
  it("holds every permit back until the pause ends", () => {
    const { limiter, clock } = limiterAt();
    const inFlight = permit(limiter.tryAcquire());
    limiter.pause(2_000);
    expect(deferral(limiter.tryAcquire())).toBe(2_000);
    expect(limiter.stats().pausedForMs).toBe(2_000);
    inFlight.release();
    clock.now += 2_000;
    permit(limiter.tryAcquire());
    expect(limiter.stats().pausedForMs).toBe(0);
  });

  it("extends with a longer pause and ignores a shorter one", () => {
    const { limiter, clock } = limiterAt();
    limiter.pause(5_000);
    clock.now += 1_000;
    limiter.pause(1_000);
    expect(limiter.stats().pausedForMs).toBe(4_000);
    limiter.pause(10_000);
    expect(limiter.stats().pausedForMs).toBe(10_000);
    limiter.pause(0);
    limiter.pause(Number.NaN);
    limiter.pause(-5);
    expect(limiter.stats().pausedForMs).toBe(10_000);
  });

  it("caps a pause, so a provider asking for a day does not stop it for a day", () => {
    const { limiter } = limiterAt();
    limiter.pause(86_400_000);
    expect(limiter.stats().pausedForMs).toBe(MAX_PAUSE_MS);
  });

  it("sends callers deferred by a pause back spread out, not all at its end", () => {
    const { limiter } = limiterAt({ requestsPerMinute: 60 });
    limiter.pause(3_000);
    const retries = [0, 1, 2].map(() => deferral(limiter.tryAcquire()));
    expect(retries).toEqual([3_000, 4_000, 5_000]);
  });
});
