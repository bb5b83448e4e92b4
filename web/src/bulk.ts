import { type Task, TaskStatus } from "@promptline/proto";
import { isActive } from "./format";

/** The actions the list can apply to many tasks at once. */
export type BulkAction = "cancel" | "retry" | "delete";

/** Whether an action applies to a task in its current status (the server would refuse the rest). */
export function bulkApplies(action: BulkAction, status: TaskStatus): boolean {
  switch (action) {
    case "cancel":
      return isActive(status);
    case "retry":
      return status === TaskStatus.FAILED || status === TaskStatus.CANCELLED;
    case "delete":
      return !isActive(status) && status !== TaskStatus.UNSPECIFIED;
  }
}

/** The selected tasks an action applies to, and how many it skips. */
export function bulkTargets(action: BulkAction, selected: readonly Task[]) {
  const targets = selected.filter((t) => bulkApplies(action, t.status));
  return { targets, skipped: selected.length - targets.length };
}
