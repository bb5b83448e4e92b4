import { TASK_STATUSES, type TaskStatus } from "../tasks/status.js";

/**
 * SQLSTATE raised by the `tasks_guard_transition` trigger when a task's status
 * would make a move the lifecycle does not allow. "PT" is a class PostgreSQL
 * does not use, so the code alone identifies the guard. The error also names
 * constraint `tasks_status_transition` (table `tasks`, column `status`), and
 * its message reads `illegal task transition: <from> -> <to> (task <id>)`.
 */
export const ILLEGAL_TRANSITION = "PT001";
export const UNIQUE_VIOLATION = "23505";
export const FOREIGN_KEY_VIOLATION = "23503";
export const CHECK_VIOLATION = "23514";

/** The fields pg and PGlite both put on a server error. */
export interface PostgresErrorFields {
  code: string;
  message: string;
  constraint: string | undefined;
  table: string | undefined;
  column: string | undefined;
  detail: string | undefined;
}

/**
 * The server error behind `err`, from pg or PGlite alike, also when it is the
 * `cause` of a wrapper (a failed commit, a MigrationError).
 */
export function postgresErrorOf(err: unknown): PostgresErrorFields | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (
      "code" in current &&
      typeof current.code === "string" &&
      /^[0-9A-Z]{5}$/.test(current.code)
    ) {
      return {
        code: current.code,
        message: current.message,
        constraint: stringField(current, "constraint"),
        table: stringField(current, "table"),
        column: stringField(current, "column"),
        detail: stringField(current, "detail"),
      };
    }
    current = current.cause;
  }
  return undefined;
}

/** True when the database refused a status change (see {@link ILLEGAL_TRANSITION}). */
export function isIllegalTransition(err: unknown): boolean {
  return postgresErrorOf(err)?.code === ILLEGAL_TRANSITION;
}

/** A refused status change, as the guard reported it. */
export interface IllegalTransition {
  taskId: string;
  from: TaskStatus;
  to: TaskStatus;
}

const illegalTransitionMessage =
  /^illegal task transition: (\w+) -> (\w+) \(task ([0-9a-f-]{36})\)$/;

/**
 * Which move the guard refused, so a caller can tell "already completed" from
 * "already cancelled" without another query. Undefined for any other error.
 */
export function illegalTransitionOf(err: unknown): IllegalTransition | undefined {
  const pgError = postgresErrorOf(err);
  if (pgError?.code !== ILLEGAL_TRANSITION) return undefined;
  const match = illegalTransitionMessage.exec(pgError.message);
  if (match === null) return undefined;
  const [, from, to, taskId] = match;
  if (!isTaskStatus(from) || !isTaskStatus(to) || taskId === undefined) return undefined;
  return { taskId, from, to };
}

/**
 * True for a unique violation, optionally of one constraint, e.g.
 * `tasks_idempotency_key_key` (a reused idempotency key) or `templates_name_key`.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return hasCode(err, UNIQUE_VIOLATION, constraint);
}

/** True for a foreign key violation (e.g. a parent or dependency that does not exist). */
export function isForeignKeyViolation(err: unknown, constraint?: string): boolean {
  return hasCode(err, FOREIGN_KEY_VIOLATION, constraint);
}

/** True for a check violation (e.g. `tasks_max_attempts_check`, `tasks_name_length_check`). */
export function isCheckViolation(err: unknown, constraint?: string): boolean {
  return hasCode(err, CHECK_VIOLATION, constraint);
}

function hasCode(err: unknown, code: string, constraint: string | undefined): boolean {
  const pgError = postgresErrorOf(err);
  if (pgError?.code !== code) return false;
  return constraint === undefined || pgError.constraint === constraint;
}

function stringField(error: Error, field: string): string | undefined {
  const value: unknown = Reflect.get(error, field);
  return typeof value === "string" ? value : undefined;
}

const taskStatuses: ReadonlySet<string> = new Set<string>(TASK_STATUSES);

function isTaskStatus(value: string | undefined): value is TaskStatus {
  return value !== undefined && taskStatuses.has(value);
}
