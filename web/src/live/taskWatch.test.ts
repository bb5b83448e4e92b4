import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Task,
  TaskSchema,
  TaskStatus,
  type WatchTaskResponse,
  WatchTaskResponseSchema,
} from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  applyTaskSnapshot,
  applyWatchMessage,
  initialTaskWatchState,
  isWatchDone,
  type TaskWatchState,
  watchCursor,
  watchedTask,
} from "./taskWatch";

const ID = "01963b4e-0000-7000-8000-000000000001";

function task(fields: Partial<Omit<Task, "$typeName">>): Task {
  return create(TaskSchema, { id: ID, ...fields });
}

function taskMsg(t: Task, cursor: { seq: number; attempt?: number; offset?: number }) {
  return create(WatchTaskResponseSchema, {
    event: { case: "task", value: t },
    seq: cursor.seq,
    outputAttempt: cursor.attempt ?? 0,
    outputOffset: BigInt(cursor.offset ?? 0),
  });
}

function delta(attempt: number, offset: number, text: string, seq = 3): WatchTaskResponse {
  return create(WatchTaskResponseSchema, {
    event: { case: "output", value: { attempt, offset: BigInt(offset), text } },
    seq,
    outputAttempt: attempt,
    outputOffset: BigInt(offset + text.length),
  });
}

/** Applies messages in order, failing on a gap. */
function run(state: TaskWatchState, ...msgs: WatchTaskResponse[]): TaskWatchState {
  let s = state;
  for (const msg of msgs) {
    const step = applyWatchMessage(s, msg);
    expect(step.outcome).not.toBe("gap");
    s = step.state;
  }
  return s;
}

const running = task({ status: TaskStatus.RUNNING, attempts: 1, output: "Hel" });

describe("applyWatchMessage", () => {
  it("starts from the snapshot's output and appends deltas that continue it", () => {
    const s = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo, "),
      delta(1, 7, "world"),
    );
    expect(s.output).toBe("Hello, world");
    expect(watchedTask(s)?.output).toBe("Hello, world");
    expect(watchedTask(s)?.status).toBe(TaskStatus.RUNNING);
    expect(watchCursor(s)).toEqual({ afterSeq: 3, outputAttempt: 1, outputOffset: 12n });
    expect(isWatchDone(s)).toBe(false);
  });

  it("skips text it already has and keeps only the new part of an overlap", () => {
    const s0 = run(initialTaskWatchState, taskMsg(running, { seq: 3, attempt: 1, offset: 3 }));
    const dup = applyWatchMessage(s0, delta(1, 0, "He"));
    expect(dup.outcome).toBe("duplicate");
    expect(dup.state).toBe(s0);
    const overlap = applyWatchMessage(s0, delta(1, 1, "ello"));
    expect(overlap.outcome).toBe("applied");
    expect(overlap.state.output).toBe("Hello");
  });

  it("reports a gap and leaves the state as it was", () => {
    const s0 = run(initialTaskWatchState, taskMsg(running, { seq: 3, attempt: 1, offset: 3 }));
    const step = applyWatchMessage(s0, delta(1, 5, "world"));
    expect(step).toEqual({ state: s0, outcome: "gap" });
    expect(watchCursor(step.state).outputOffset).toBe(3n);
  });

  it("keeps the text it put together when a status message while running has no output", () => {
    const s = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo"),
      taskMsg(task({ status: TaskStatus.RUNNING, attempts: 1, name: "renamed" }), {
        seq: 4,
        attempt: 1,
        offset: 5,
      }),
    );
    expect(s.output).toBe("Hello");
    expect(s.seq).toBe(4);
    expect(watchedTask(s)?.name).toBe("renamed");
  });

  it("replaces its text with the final output at a terminal status", () => {
    const s = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo wrold"),
      taskMsg(task({ status: TaskStatus.COMPLETED, attempts: 1, output: "Hello world" }), {
        seq: 5,
        attempt: 1,
        offset: 11,
      }),
    );
    expect(s.output).toBe("Hello world");
    expect(isWatchDone(s)).toBe(true);
  });

  it("takes an empty final output too (a failed attempt's text is not the answer)", () => {
    const s = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      taskMsg(task({ status: TaskStatus.FAILED, attempts: 1 }), { seq: 4, attempt: 1 }),
    );
    expect(watchedTask(s)?.output).toBe("");
  });

  it("starts over when a delta of a new attempt arrives (a retry began)", () => {
    const s0 = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo"),
    );
    const s = run(s0, delta(2, 0, "Second"));
    expect(s.output).toBe("Second");
    expect(s.outputAttempt).toBe(2);
    // A late delta of the old attempt changes nothing.
    expect(applyWatchMessage(s, delta(1, 5, "!")).outcome).toBe("duplicate");
    // A new attempt that doesn't start at 0 is missing its beginning.
    expect(applyWatchMessage(s0, delta(2, 4, "ond")).outcome).toBe("gap");
  });

  it("starts over when a status message says a new attempt is running", () => {
    const s = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      taskMsg(task({ status: TaskStatus.RUNNING, attempts: 2 }), { seq: 6, attempt: 2 }),
    );
    expect(s.output).toBe("");
    expect(watchCursor(s)).toEqual({ afterSeq: 6, outputAttempt: 2, outputOffset: 0n });
    expect(run(s, delta(2, 0, "Hi")).output).toBe("Hi");
  });

  it("resumes: a first message without output keeps what the client has", () => {
    const s0 = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo"),
    );
    // Reconnected with cursor (3, 1, 5): the server sends the task, then what is missing.
    const s = run(
      s0,
      taskMsg(task({ status: TaskStatus.RUNNING, attempts: 1 }), { seq: 3, attempt: 1, offset: 5 }),
      delta(1, 5, ", world"),
    );
    expect(s.output).toBe("Hello, world");
  });

  it("resumes: a final message without output keeps the output the client has", () => {
    const s0 = run(
      initialTaskWatchState,
      taskMsg(running, { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo"),
    );
    // Reconnected with cursor (3, 1, 5) after the task finished with "Hello":
    // the server sends the final task without the 5 characters the client has.
    const s = run(
      s0,
      taskMsg(task({ status: TaskStatus.COMPLETED, attempts: 1 }), {
        seq: 5,
        attempt: 1,
        offset: 5,
      }),
    );
    expect(s.output).toBe("Hello");
    expect(isWatchDone(s)).toBe(true);
  });

  it("ignores an event it doesn't know", () => {
    const s0 = run(initialTaskWatchState, taskMsg(running, { seq: 3, attempt: 1, offset: 3 }));
    const step = applyWatchMessage(s0, create(WatchTaskResponseSchema, { seq: 3 }));
    expect(step).toEqual({ state: s0, outcome: "duplicate" });
  });
});

describe("applyTaskSnapshot", () => {
  const at = (ms: number) => timestampFromMs(ms);

  it("takes a newer read's fields but keeps the streamed output while running", () => {
    const s0 = run(
      initialTaskWatchState,
      taskMsg(task({ ...running, updatedAt: at(1000) }), { seq: 3, attempt: 1, offset: 3 }),
      delta(1, 3, "lo"),
    );
    const s = applyTaskSnapshot(
      s0,
      task({ status: TaskStatus.RUNNING, attempts: 1, updatedAt: at(2000), name: "n" }),
    );
    expect(watchedTask(s)?.name).toBe("n");
    expect(s.output).toBe("Hello");
  });

  it("ignores a read older than what it holds, so the status never goes back", () => {
    const s0 = run(
      initialTaskWatchState,
      taskMsg(task({ ...running, updatedAt: at(2000) }), { seq: 3, attempt: 1, offset: 3 }),
    );
    expect(applyTaskSnapshot(s0, task({ status: TaskStatus.QUEUED, updatedAt: at(1000) }))).toBe(
      s0,
    );
  });

  it("takes the final output of a finished task", () => {
    const s = applyTaskSnapshot(
      initialTaskWatchState,
      task({ status: TaskStatus.COMPLETED, attempts: 1, output: "done" }),
    );
    expect(watchedTask(s)?.output).toBe("done");
    expect(isWatchDone(s)).toBe(true);
  });
});
