import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TaskEventSchema, TaskSchema, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { errorHint, timeline, tokensPerSecond } from "./taskInsights";

describe("tokensPerSecond", () => {
  it("divides completion tokens by the time spent writing them", () => {
    const task = create(TaskSchema, {
      usage: { completionTokens: 50 },
      latency: durationFromMs(2500),
      timeToFirstToken: durationFromMs(500),
    });
    expect(tokensPerSecond(task)).toBe(25);
  });

  it("says nothing without tokens or time", () => {
    expect(tokensPerSecond(create(TaskSchema, {}))).toBeUndefined();
    const instant = create(TaskSchema, {
      usage: { completionTokens: 5 },
      latency: durationFromMs(100),
      timeToFirstToken: durationFromMs(100),
    });
    expect(tokensPerSecond(instant)).toBeUndefined();
  });
});

describe("timeline", () => {
  const event = (seq: number, to: TaskStatus, atMs: number) =>
    create(TaskEventSchema, { seq, toStatus: to, at: timestampFromMs(atMs) });

  it("gives each state the time until the next event, in sequence order", () => {
    const steps = timeline(
      [
        event(3, TaskStatus.RUNNING, 4000),
        event(1, TaskStatus.PENDING, 1000),
        event(2, TaskStatus.QUEUED, 1500),
      ],
      { now: 9000, active: true },
    );
    expect(steps.map((s) => [s.event.seq, s.stayedMs, s.ongoing])).toEqual([
      [1, 500, false],
      [2, 2500, false],
      [3, 5000, true],
    ]);
  });

  it("leaves a finished task's final state without a duration", () => {
    const steps = timeline([event(1, TaskStatus.PENDING, 0), event(2, TaskStatus.COMPLETED, 10)], {
      now: 99,
      active: false,
    });
    expect(steps.at(-1)?.stayedMs).toBeUndefined();
    expect(steps.at(-1)?.ongoing).toBe(false);
  });
});

describe("errorHint", () => {
  it("has a next step for the codes people meet, and nothing for unknown ones", () => {
    expect(errorHint("PROVIDER_UNAUTHORIZED")).toMatch(/API key/);
    expect(errorHint("UPSTREAM_FAILED")).toMatch(/waits for/);
    expect(errorHint("SOMETHING_NEW")).toBeUndefined();
  });
});
