import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Task,
  TaskPriority,
  TaskSchema,
  TaskSort,
  TaskStatus,
  WatchTasksResponse_Change,
  WatchTasksResponseSchema,
} from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  applyListChange,
  emptyTaskListOverlay,
  liveTaskList,
  matchesFilter,
  pruneListOverlay,
  type TaskListFilter,
  type TaskListOverlay,
} from "./taskList";

// UUIDv7-like ids: a larger number is a newer task.
const id = (n: number) => `01963b4e-0000-7000-8000-${String(n).padStart(12, "0")}`;

function task(n: number, status: TaskStatus, updatedMs = 1000): Task {
  return create(TaskSchema, {
    id: id(n),
    name: `task ${n}`,
    status,
    updatedAt: timestampFromMs(updatedMs),
  });
}

function change(kind: WatchTasksResponse_Change, t: Task) {
  return create(WatchTasksResponseSchema, { change: kind, task: t });
}

const { CREATED, UPDATED, DELETED } = WatchTasksResponse_Change;
const all: TaskListFilter = { statuses: [], query: "" };
const names = (tasks: Task[]) => tasks.map((t) => t.name);

function overlayOf(...msgs: ReturnType<typeof change>[]): TaskListOverlay {
  return msgs.reduce(applyListChange, emptyTaskListOverlay);
}

// Rows as ListTasks returns them: newest first.
const rows = [task(5, TaskStatus.RUNNING), task(3, TaskStatus.QUEUED), task(1, TaskStatus.PENDING)];

describe("liveTaskList", () => {
  it("shows the rows as fetched while nothing happened", () => {
    expect(liveTaskList(rows, emptyTaskListOverlay, { filter: all, complete: true })).toEqual(rows);
  });

  it("updates rows in place, prepends created tasks and removes deleted ones", () => {
    const overlay = overlayOf(
      change(UPDATED, task(3, TaskStatus.RUNNING, 2000)),
      change(CREATED, task(7, TaskStatus.PENDING)),
      change(DELETED, create(TaskSchema, { id: id(1) })),
    );
    const shown = liveTaskList(rows, overlay, { filter: all, complete: true });
    expect(names(shown)).toEqual(["task 7", "task 5", "task 3"]);
    expect(shown[2]?.status).toBe(TaskStatus.RUNNING);
  });

  it("drops a row that left the filtered statuses and adds one that entered them, in order", () => {
    const running: TaskListFilter = { statuses: [TaskStatus.RUNNING], query: "" };
    const fetched = [task(5, TaskStatus.RUNNING), task(2, TaskStatus.RUNNING)];
    const overlay = overlayOf(
      change(UPDATED, task(5, TaskStatus.COMPLETED, 2000)),
      change(UPDATED, task(3, TaskStatus.RUNNING, 2000)),
      change(CREATED, task(8, TaskStatus.PENDING)),
    );
    expect(names(liveTaskList(fetched, overlay, { filter: running, complete: true }))).toEqual([
      "task 3",
      "task 2",
    ]);
  });

  it("leaves a task older than the last row loaded to the page it belongs on", () => {
    const overlay = overlayOf(change(UPDATED, task(0, TaskStatus.RUNNING, 2000)));
    expect(names(liveTaskList(rows, overlay, { filter: all, complete: false }))).toEqual(
      names(rows),
    );
    expect(names(liveTaskList(rows, overlay, { filter: all, complete: true })).at(-1)).toBe(
      "task 0",
    );
  });

  it("keeps a row the fetch has in a newer version than the stream's", () => {
    const overlay = overlayOf(change(UPDATED, task(5, TaskStatus.RUNNING, 500)));
    const fresher = [task(5, TaskStatus.COMPLETED, 3000)];
    expect(liveTaskList(fresher, overlay, { filter: all, complete: true })[0]?.status).toBe(
      TaskStatus.COMPLETED,
    );
  });
});

describe("applyListChange", () => {
  it("returns the same overlay for a heartbeat, an older version, or news of a deleted task", () => {
    const overlay = overlayOf(change(UPDATED, task(5, TaskStatus.COMPLETED, 2000)));
    expect(applyListChange(overlay, create(WatchTasksResponseSchema, {}))).toBe(overlay);
    expect(applyListChange(overlay, change(UPDATED, task(5, TaskStatus.RUNNING, 1000)))).toBe(
      overlay,
    );
    const gone = applyListChange(overlay, change(DELETED, create(TaskSchema, { id: id(5) })));
    expect(gone.tasks.size).toBe(0);
    expect(applyListChange(gone, change(UPDATED, task(5, TaskStatus.COMPLETED, 3000)))).toBe(gone);
  });
});

describe("pruneListOverlay", () => {
  it("forgets what the rows already show and keeps what still changes the view", () => {
    const overlay = overlayOf(
      change(UPDATED, task(5, TaskStatus.COMPLETED, 2000)), // rows have it now
      change(UPDATED, task(3, TaskStatus.RUNNING, 2000)), // still newer than the row
      change(CREATED, task(9, TaskStatus.PENDING)), // joins the list
      change(UPDATED, task(0, TaskStatus.RUNNING, 2000)), // beyond the loaded pages
      change(DELETED, create(TaskSchema, { id: id(4) })), // no row to hide
    );
    const fetched = [task(5, TaskStatus.COMPLETED, 2000), task(3, TaskStatus.QUEUED), task(1, 0)];
    const pruned = pruneListOverlay(overlay, fetched, { filter: all, complete: false });
    expect([...pruned.tasks.keys()].sort()).toEqual([id(3), id(9)]);
    expect(pruned.deleted.size).toBe(0);
    expect(pruneListOverlay(pruned, fetched, { filter: all, complete: false })).toBe(pruned);
  });
});

describe("matchesFilter", () => {
  it("checks statuses, model and parent, and leaves the search words to the server", () => {
    const t = create(TaskSchema, {
      id: id(1),
      status: TaskStatus.RUNNING,
      model: "simulator/echo",
      name: "anything",
    });
    expect(matchesFilter(t, { statuses: [], query: "unrelated words" })).toBe(true);
    expect(matchesFilter(t, { statuses: [TaskStatus.QUEUED], query: "" })).toBe(false);
    expect(matchesFilter(t, { ...all, model: "simulator/lorem" })).toBe(false);
    expect(matchesFilter(t, { ...all, parentTaskId: id(0) })).toBe(false);
  });
});

describe("liveTaskList in other orders", () => {
  it("places a new task where the list's sort puts it, and leaves later pages to their fetch", () => {
    const byPriority: TaskListFilter = { ...all, sort: TaskSort.PRIORITY };
    const withPriority = (t: Task, priority: TaskPriority) =>
      create(TaskSchema, { ...t, priority });
    const fetched = [
      withPriority(task(2, TaskStatus.QUEUED), TaskPriority.CRITICAL),
      withPriority(task(4, TaskStatus.QUEUED), TaskPriority.NORMAL),
    ];
    const high = withPriority(task(9, TaskStatus.PENDING), TaskPriority.HIGH);
    const low = withPriority(task(8, TaskStatus.PENDING), TaskPriority.LOW);
    const overlay = overlayOf(change(CREATED, high), change(CREATED, low));
    expect(names(liveTaskList(fetched, overlay, { filter: byPriority, complete: false }))).toEqual([
      "task 2",
      "task 9",
      "task 4",
    ]);
    expect(names(liveTaskList(fetched, overlay, { filter: byPriority, complete: true }))).toEqual([
      "task 2",
      "task 9",
      "task 4",
      "task 8",
    ]);
    const oldest: TaskListFilter = { ...all, sort: TaskSort.OLDEST_FIRST };
    expect(
      names(liveTaskList([...rows].reverse(), overlay, { filter: oldest, complete: true })),
    ).toEqual(["task 1", "task 3", "task 5", "task 8", "task 9"]);
  });

  it("moves a task whose status changed to its new place in a list sorted by status", () => {
    const byStatus: TaskListFilter = { ...all, sort: TaskSort.STATUS };
    const fetched = [
      task(4, TaskStatus.PENDING),
      task(2, TaskStatus.PENDING),
      task(3, TaskStatus.RUNNING),
    ];
    const overlay = overlayOf(change(UPDATED, task(4, TaskStatus.COMPLETED, 2000)));
    expect(names(liveTaskList(fetched, overlay, { filter: byStatus, complete: true }))).toEqual([
      "task 2",
      "task 3",
      "task 4",
    ]);
  });

  it("keeps a task out of a list whose metadata pairs it lacks", () => {
    const t = create(TaskSchema, { id: id(1), metadata: { team: "red", area: "search" } });
    expect(matchesFilter(t, { ...all, metadata: { team: "red" } })).toBe(true);
    expect(matchesFilter(t, { ...all, metadata: { team: "red", area: "billing" } })).toBe(false);
    expect(matchesFilter(t, { ...all, metadata: { owner: "" } })).toBe(false);
  });

  it("keeps a task out of a list whose creation range it is not in", () => {
    const t = create(TaskSchema, { id: id(1), createdAt: timestampFromMs(5000) });
    expect(matchesFilter(t, { ...all, createdAfterMs: 5000, createdBeforeMs: 6000 })).toBe(true);
    expect(matchesFilter(t, { ...all, createdBeforeMs: 5000 })).toBe(false);
    expect(matchesFilter(t, { ...all, createdAfterMs: 5001 })).toBe(false);
  });
});
