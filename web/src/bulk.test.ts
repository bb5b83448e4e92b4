import { create } from "@bufbuild/protobuf";
import { TaskSchema, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { bulkApplies, bulkTargets, runBounded } from "./bulk";

describe("runBounded", () => {
  it("keeps at most `limit` calls in flight and reports every outcome in input order", async () => {
    let inFlight = 0;
    let most = 0;
    const outcomes = await runBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 10 - n));
      inFlight--;
      if (n % 3 === 0) throw new Error(`no ${n}`);
    });
    expect(most).toBe(3);
    expect(outcomes.map((o) => o.item)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(outcomes.filter((o) => !o.ok).map((o) => o.item)).toEqual([3, 6]);
    const failed = outcomes[2];
    expect(failed?.ok === false && (failed.error as Error).message).toBe("no 3");
  });

  it("does nothing for no items", async () => {
    expect(await runBounded([], 4, () => Promise.reject(new Error("called")))).toEqual([]);
  });
});

describe("bulk actions", () => {
  it("apply only where the server would allow them", () => {
    expect(bulkApplies("cancel", TaskStatus.RUNNING)).toBe(true);
    expect(bulkApplies("cancel", TaskStatus.COMPLETED)).toBe(false);
    expect(bulkApplies("retry", TaskStatus.FAILED)).toBe(true);
    expect(bulkApplies("retry", TaskStatus.COMPLETED)).toBe(false);
    expect(bulkApplies("delete", TaskStatus.COMPLETED)).toBe(true);
    expect(bulkApplies("delete", TaskStatus.QUEUED)).toBe(false);
    const tasks = [TaskStatus.PENDING, TaskStatus.FAILED, TaskStatus.COMPLETED].map((status, i) =>
      create(TaskSchema, { id: `t${i}`, status }),
    );
    const { targets, skipped } = bulkTargets("delete", tasks);
    expect(targets.map((t) => t.id)).toEqual(["t1", "t2"]);
    expect(skipped).toBe(1);
  });
});
