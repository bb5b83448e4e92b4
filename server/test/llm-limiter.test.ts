import { describe, expect, it, vi } from "vitest";
import { createLimiter } from "../src/llm/limiter.js";

describe("createLimiter", () => {
  it("lets maxConcurrency requests run and the rest wait in arrival order", async () => {
    const limiter = createLimiter({ maxConcurrency: 2 });
    const order: number[] = [];
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    const waiting = [3, 4].map((n) =>
      limiter.acquire().then((release) => {
        order.push(n);
        return release;
      }),
    );
    expect(limiter.stats()).toEqual({ active: 2, waiting: 2 });
    b();
    b();
    const third = await waiting[0];
    expect(order).toEqual([3]);
    expect(limiter.stats()).toEqual({ active: 2, waiting: 1 });
    a();
    const fourth = await waiting[1];
    expect(order).toEqual([3, 4]);
    third?.();
    fourth?.();
    expect(limiter.stats()).toEqual({ active: 0, waiting: 0 });
  });

  it("drops a waiter whose signal aborts, with the signal's reason", async () => {
    const limiter = createLimiter({ maxConcurrency: 1 });
    const release = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error("task cancelled"));
    await expect(waiting).rejects.toThrow("task cancelled");
    expect(limiter.stats()).toEqual({ active: 1, waiting: 0 });
    release();
    await expect(limiter.acquire(AbortSignal.abort("gone"))).rejects.toBe("gone");
  });

  it("starts at most requestsPerMinute per window and resumes when the window moves", async () => {
    const limiter = createLimiter({ requestsPerMinute: 2, windowMs: 100 });
    (await limiter.acquire())();
    (await limiter.acquire())();
    let third = false;
    const next = limiter.acquire().then((release) => {
      third = true;
      release();
    });
    expect(limiter.stats().waiting).toBe(1);
    expect(third).toBe(false);
    await next;
    await vi.waitFor(() => expect(limiter.stats()).toEqual({ active: 0, waiting: 0 }));
  });
});
