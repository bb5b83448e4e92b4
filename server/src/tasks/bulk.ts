import { TaskNotFoundError, TaskStateError } from "./errors.js";

/** Why one task of an action on many was refused, as a Connect code name. */
export type TaskRefusal = "not_found" | "failed_precondition";

/** One task's outcome in an action on many tasks. */
export type TaskActionOutcome<T> =
  | { id: string; ok: true; value: T }
  | { id: string; ok: false; code: TaskRefusal; message: string };

/**
 * Runs `action` for each task, one after another (a 100-task selection
 * weighs on the database like 100 single calls in a row, never 100 at
 * once). A refusal that belongs to one task - it is missing, or in a state
 * the action doesn't apply to - becomes that task's outcome and the rest go
 * on; any other error (the database is down) fails the whole call, as the
 * rest would fail alike. A `hidden` task (another user's, for a member) is
 * refused exactly like a missing one, so its existence does not leak.
 */
export async function forEachTask<T>(
  ids: readonly string[],
  hidden: ReadonlySet<string>,
  action: (id: string) => Promise<T>,
): Promise<Array<TaskActionOutcome<T>>> {
  const outcomes: Array<TaskActionOutcome<T>> = [];
  for (const id of ids) {
    try {
      if (hidden.has(id)) throw new TaskNotFoundError(id);
      outcomes.push({ id, ok: true, value: await action(id) });
    } catch (error) {
      if (error instanceof TaskNotFoundError) {
        outcomes.push({ id, ok: false, code: "not_found", message: error.message });
      } else if (error instanceof TaskStateError) {
        outcomes.push({ id, ok: false, code: "failed_precondition", message: error.message });
      } else {
        throw error;
      }
    }
  }
  return outcomes;
}
