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

/** One task's outcome in a bulk run. */
export type BulkOutcome<T> = { item: T; ok: true } | { item: T; ok: false; error: unknown };

/**
 * Runs `fn` for every item with at most `limit` calls in flight, so a bulk
 * action on 200 tasks neither queues 200 requests in the browser nor takes
 * 200 round trips one after another. Every item gets an outcome, in input
 * order; one failure does not stop the others.
 */
export async function runBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<Array<BulkOutcome<T>>> {
  const outcomes: Array<BulkOutcome<T>> = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      const item = items[i] as T;
      try {
        await fn(item);
        outcomes[i] = { item, ok: true };
      } catch (error) {
        outcomes[i] = { item, ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return outcomes;
}
