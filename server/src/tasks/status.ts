/**
 * The task lifecycle's vocabulary. The same names are the database enums
 * (`task_status`, `task_priority`), whose trigger refuses illegal transitions.
 */
export const TASK_STATUSES = [
  "pending",
  "queued",
  "running",
  "completed",
  "failed",
  "cancelled",
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TASK_PRIORITIES = ["low", "normal", "high", "critical"] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** The end states: only RetryTask leaves one, and only these may be deleted. */
export const TERMINAL_STATUSES = [
  "completed",
  "failed",
  "cancelled",
] as const satisfies readonly TaskStatus[];

const terminal: ReadonlySet<TaskStatus> = new Set(TERMINAL_STATUSES);

/** Nothing leaves a terminal state except RetryTask. */
export function isTerminal(status: TaskStatus): boolean {
  return terminal.has(status);
}
