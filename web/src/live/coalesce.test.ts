import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { coalesce } from "./coalesce";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A run that stays going until `finish()`; `started` counts the runs. */
function slowRun() {
  const state = { started: 0, finish: () => {} };
  const run = () => {
    state.started++;
    return new Promise<void>((resolve) => {
      state.finish = resolve;
    });
  };
  return { state, run };
}

describe("coalesce", () => {
  it("makes one run of asks that come close together", async () => {
    const { state, run } = slowRun();
    const c = coalesce(run, 250);
    c.request();
    c.request();
    c.request();
    expect(state.started).toBe(0);
    await vi.advanceTimersByTimeAsync(250);
    expect(state.started).toBe(1);
  });

  it("runs again after a run that an ask came during, never two at once", async () => {
    const { state, run } = slowRun();
    const c = coalesce(run, 250);
    c.request();
    await vi.advanceTimersByTimeAsync(250);
    expect(state.started).toBe(1);
    c.request();
    c.request();
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.started).toBe(1);
    state.finish();
    await vi.advanceTimersByTimeAsync(250);
    expect(state.started).toBe(2);
    state.finish();
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.started).toBe(2);
  });

  it("keeps going after a failed run, and stops when cancelled", async () => {
    let started = 0;
    const c = coalesce(() => {
      started++;
      return Promise.reject(new Error("offline"));
    }, 100);
    c.request();
    await vi.advanceTimersByTimeAsync(100);
    c.request();
    await vi.advanceTimersByTimeAsync(100);
    expect(started).toBe(2);
    c.request();
    c.cancel();
    c.request();
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(2);
  });
});
