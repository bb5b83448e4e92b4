/**
 * Domain errors of the task lifecycle. The API layer maps each to a Connect
 * code; nothing below the API knows about transports.
 */

/** A request field is wrong. `field` is the proto field name (snake_case). */
export class InvalidFieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "InvalidFieldError";
  }
}

export class TaskNotFoundError extends Error {
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
    this.name = "TaskNotFoundError";
  }
}

/** The task is in a state that does not allow the operation (e.g. cancel a completed task). */
export class TaskStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskStateError";
  }
}

/** An idempotency key was used before with a different request. `field` names the key's proto field. */
export class AlreadyExistsError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "AlreadyExistsError";
  }
}
