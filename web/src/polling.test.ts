import { TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { POLL_INTERVAL_MS, pollWhileActive } from "./polling";

describe("pollWhileActive", () => {
  it("polls every 2 s while any task can still change", () => {
    expect(POLL_INTERVAL_MS).toBe(2000);
    expect(pollWhileActive([{ status: TaskStatus.COMPLETED }, { status: TaskStatus.QUEUED }])).toBe(
      2000,
    );
  });

  it("stops once every task is terminal, or there are none", () => {
    expect(
      pollWhileActive([
        { status: TaskStatus.COMPLETED },
        { status: TaskStatus.FAILED },
        { status: TaskStatus.CANCELLED },
      ]),
    ).toBe(false);
    expect(pollWhileActive([])).toBe(false);
  });
});
