import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ChainTotalsSchema, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  movedOnFrom,
  neighboursOf,
  statusCounts,
  taskDepths,
  tasksInOrder,
  touchesLineage,
  upstreamTaskId,
  withLatestTask,
} from "./lineage";
import { branching, task, tid } from "./testLineage";

describe("neighboursOf", () => {
  it("lists the parent above and the children below, parents before dependencies", () => {
    const { upstream, downstream } = neighboursOf(branching, tid(2));
    expect(upstream.map((n) => [n.task.name, n.kind])).toEqual([["step 1", "derived"]]);
    expect(downstream.map((n) => [n.task.name, n.kind, n.name])).toEqual([
      ["step 3", "derived", ""],
      ["step 4", "depends_on", "summary"],
    ]);
  });

  it("says nothing about tasks the lineage doesn't hold", () => {
    const partial = { ...branching, tasks: branching.tasks.filter((t) => t.id !== tid(1)) };
    expect(neighboursOf(partial, tid(2)).upstream).toEqual([]);
  });
});

describe("taskDepths and tasksInOrder", () => {
  it("places ancestors above and descendants below, top to bottom", () => {
    expect(Object.fromEntries(taskDepths(branching, tid(2)))).toEqual({
      [tid(1)]: -1,
      [tid(2)]: 0,
      [tid(3)]: 1,
      [tid(4)]: 1,
    });
    expect(tasksInOrder(branching, tid(2)).map((t) => t.name)).toEqual([
      "step 1",
      "step 2",
      "step 3",
      "step 4",
    ]);
  });
});

describe("withLatestTask", () => {
  it("takes the watched copy of a task when it is newer", () => {
    const newer = task(3, TaskStatus.COMPLETED, { updatedAt: timestampFromMs(2000) });
    const merged = withLatestTask(branching, newer);
    expect(merged.tasks.find((t) => t.id === tid(3))?.status).toBe(TaskStatus.COMPLETED);
    const older = task(3, TaskStatus.QUEUED, { updatedAt: timestampFromMs(500) });
    expect(withLatestTask(branching, older)).toBe(branching);
    expect(withLatestTask(branching, task(9))).toBe(branching);
  });
});

describe("touchesLineage", () => {
  it("knows the lineage's tasks, their new children and the chain", () => {
    expect(touchesLineage(task(3), branching, "")).toBe(true);
    expect(
      touchesLineage(task(9, TaskStatus.PENDING, { parentTaskId: tid(4) }), branching, ""),
    ).toBe(true);
    expect(touchesLineage(task(9, TaskStatus.PENDING, { chainId: "c1" }), branching, "c1")).toBe(
      true,
    );
    expect(touchesLineage(task(9), branching, "c1")).toBe(false);
    expect(touchesLineage(task(9), branching, "")).toBe(false);
  });

  it("counts any new task: it may depend on the lineage's tasks, which WatchTasks doesn't say", () => {
    expect(touchesLineage(task(9), branching, "", true)).toBe(true);
  });
});

describe("statusCounts", () => {
  it("lists the statuses the chain has, in lifecycle order", () => {
    const totals = create(ChainTotalsSchema, {
      tasks: 4,
      counts: [
        { status: TaskStatus.FAILED, count: 1n },
        { status: TaskStatus.COMPLETED, count: 2n },
        { status: TaskStatus.PENDING, count: 1n },
        { status: TaskStatus.RUNNING, count: 0n },
      ],
    });
    expect(statusCounts(totals)).toEqual([
      [TaskStatus.PENDING, 1],
      [TaskStatus.COMPLETED, 2],
      [TaskStatus.FAILED, 1],
    ]);
    expect(statusCounts(undefined)).toEqual([]);
  });
});

describe("upstreamTaskId", () => {
  it("finds the task an UPSTREAM_FAILED cancellation names", () => {
    const id = "0190A5C8-0000-7000-8000-0000000000AB";
    expect(
      upstreamTaskId({
        $typeName: "promptline.v1.TaskError",
        code: "UPSTREAM_FAILED",
        message: `upstream task ${id} failed (PROVIDER_BAD_REQUEST)`,
        httpStatus: 0,
      }),
    ).toBe(id.toLowerCase());
    expect(
      upstreamTaskId({
        $typeName: "promptline.v1.TaskError",
        code: "TIMEOUT",
        message: `task ${id}`,
        httpStatus: 0,
      }),
    ).toBeUndefined();
    expect(upstreamTaskId(undefined)).toBeUndefined();
  });
});

describe("movedOnFrom", () => {
  const cancelled = task(3, TaskStatus.CANCELLED, { updatedAt: timestampFromMs(1000) });

  it("spots a finished task that a newer copy shows running again", () => {
    const retried = task(3, TaskStatus.PENDING, { updatedAt: timestampFromMs(2000) });
    expect(movedOnFrom(cancelled, retried)).toBe(true);
  });

  it("ignores older copies, the same status, active tasks and other tasks", () => {
    expect(movedOnFrom(cancelled, task(3, TaskStatus.PENDING))).toBe(false);
    expect(
      movedOnFrom(cancelled, task(3, TaskStatus.CANCELLED, { updatedAt: timestampFromMs(5000) })),
    ).toBe(false);
    const running = task(3, TaskStatus.RUNNING, { updatedAt: timestampFromMs(1000) });
    expect(
      movedOnFrom(running, task(3, TaskStatus.COMPLETED, { updatedAt: timestampFromMs(5000) })),
    ).toBe(false);
    expect(
      movedOnFrom(cancelled, task(4, TaskStatus.PENDING, { updatedAt: timestampFromMs(5000) })),
    ).toBe(false);
    expect(movedOnFrom(undefined, cancelled)).toBe(false);
  });
});
