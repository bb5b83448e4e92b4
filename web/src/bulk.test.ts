import { create } from "@bufbuild/protobuf";
import { TaskSchema, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { bulkApplies, bulkTargets } from "./bulk";

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
