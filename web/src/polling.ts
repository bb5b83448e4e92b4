import type { Task } from "@promptline/proto";
import { isActive } from "./format";

/** How often a page refetches while something on it can still change. */
export const POLL_INTERVAL_MS = 2000;

/**
 * The `refetchInterval` for a page showing `tasks`: poll while any of them is
 * pending, queued or running, stop once all are terminal. WatchTask streaming
 * (issue 4) replaces this.
 */
export function pollWhileActive(tasks: Iterable<Pick<Task, "status">>): number | false {
  for (const task of tasks) {
    if (isActive(task.status)) return POLL_INTERVAL_MS;
  }
  return false;
}
