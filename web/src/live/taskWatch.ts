import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { OutputDelta, Task, WatchTaskResponse } from "@promptline/proto";
import { isActive } from "../format";

/**
 * What a watcher of one task knows: the task's latest fields, and the output
 * it has put together from the snapshot and the deltas so far. The output is
 * kept apart from `task.output` because status messages sent while a task
 * runs carry none.
 */
export interface TaskWatchState {
  /** The latest task seen; its `output` field is stale, read {@link TaskWatchState.output}. */
  task: Task | undefined;
  /** The output of attempt `outputAttempt`, as far as this client has it. */
  output: string;
  outputAttempt: number;
  /** Sequence number of the last status event seen. */
  seq: number;
}

/** A watcher that has seen nothing yet. */
export const initialTaskWatchState: TaskWatchState = {
  task: undefined,
  output: "",
  outputAttempt: 0,
  seq: 0,
};

/**
 * What became of a message: `applied` changed the state, `duplicate` brought
 * nothing new (the state is the same object), `gap` means output is missing
 * before this delta, so the watch must reconnect with {@link watchCursor}.
 */
export type WatchOutcome = "applied" | "duplicate" | "gap";

/** The result of {@link applyWatchMessage}. */
export interface WatchStep {
  state: TaskWatchState;
  outcome: WatchOutcome;
}

/**
 * Folds one WatchTask message into the state. A `task` message replaces the
 * task; its output is taken when it is the final one (terminal status: the
 * truth, even if it differs from the deltas) or when it holds more than the
 * client has (a snapshot), and is otherwise ignored. A delta is appended only
 * where it continues the output; text already held is skipped, and a delta of
 * a later attempt starts the output over (a retry began).
 */
export function applyWatchMessage(state: TaskWatchState, msg: WatchTaskResponse): WatchStep {
  const seq = Math.max(state.seq, msg.seq);
  switch (msg.event.case) {
    case "task": {
      const attempt = msg.outputAttempt > 0 ? msg.outputAttempt : msg.event.value.attempts;
      const task = withHeldOutput(state, msg.event.value, attempt, Number(msg.outputOffset));
      return { state: { ...withTask(state, task, attempt), seq }, outcome: "applied" };
    }
    case "output": {
      const step = applyDelta(state, msg.event.value);
      if (step.outcome !== "applied" || seq === state.seq) return step;
      return { state: { ...step.state, seq }, outcome: "applied" };
    }
    default:
      return seq === state.seq
        ? { state, outcome: "duplicate" }
        : { state: { ...state, seq }, outcome: "applied" };
  }
}

/**
 * Folds in a task read some other way (GetTask, while the stream is down). A
 * read older than the task already held is ignored, so a slow response can't
 * move the status back.
 */
export function applyTaskSnapshot(state: TaskWatchState, task: Task): TaskWatchState {
  if (state.task !== undefined && updatedMs(task) < updatedMs(state.task)) return state;
  return withTask(state, task, task.attempts);
}

/** The WatchTaskRequest fields that resume a watch from this state with no gap and no repeat. */
export function watchCursor(state: TaskWatchState): {
  afterSeq: number;
  outputAttempt: number;
  outputOffset: bigint;
} {
  return {
    afterSeq: state.seq,
    outputAttempt: state.outputAttempt,
    outputOffset: BigInt(state.output.length),
  };
}

/** The task to show: the latest fields with the output put together so far. */
export function watchedTask(state: TaskWatchState): Task | undefined {
  if (state.task === undefined) return undefined;
  if (state.task.output === state.output) return state.task;
  return { ...state.task, output: state.output };
}

/** True once the task is finished: nothing more will come. */
export function isWatchDone(state: TaskWatchState): boolean {
  return state.task !== undefined && !isActive(state.task.status);
}

/**
 * A resumed watch's first message leaves out the output the client said it
 * has (its cursor says how much: `held`). For a finished task that message is
 * final, so the client's own copy fills in what was left out.
 */
function withHeldOutput(state: TaskWatchState, task: Task, attempt: number, held: number): Task {
  if (isActive(task.status) || task.output.length >= held) return task;
  if (attempt !== state.outputAttempt || state.output.length < held) return task;
  return { ...task, output: state.output.slice(0, held) };
}

function withTask(state: TaskWatchState, task: Task, attempt: number): TaskWatchState {
  if (!isActive(task.status)) {
    return { ...state, task, output: task.output, outputAttempt: attempt };
  }
  if (attempt > state.outputAttempt) {
    // A snapshot of a newer attempt, or a status change saying one started.
    return { ...state, task, output: task.output, outputAttempt: attempt };
  }
  if (attempt === state.outputAttempt && task.output.length > state.output.length) {
    return { ...state, task, output: task.output };
  }
  return { ...state, task };
}

function applyDelta(state: TaskWatchState, delta: OutputDelta): WatchStep {
  if (delta.attempt < state.outputAttempt) return { state, outcome: "duplicate" };
  const fresh = delta.attempt > state.outputAttempt;
  const have = fresh ? "" : state.output;
  const offset = Number(delta.offset);
  if (offset > have.length) return { state, outcome: "gap" };
  const end = offset + delta.text.length;
  if (end <= have.length && !fresh) return { state, outcome: "duplicate" };
  // Text of one attempt only grows, so the part of an overlapping delta past
  // what we have is exactly what is missing.
  const output = have + delta.text.slice(have.length - offset);
  return { state: { ...state, output, outputAttempt: delta.attempt }, outcome: "applied" };
}

function updatedMs(task: Task): number {
  return task.updatedAt === undefined ? 0 : timestampMs(task.updatedAt);
}
