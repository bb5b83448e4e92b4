import { timestampMs } from "@bufbuild/protobuf/wkt";
import type {
  ChainTotals,
  GetTaskLineageResponse,
  Task,
  TaskError,
  TaskStatus,
} from "@promptline/proto";
import { isActive, STATUSES } from "../format";

/** What the lineage views need of a GetTaskLineage answer. */
export type Lineage = Pick<GetTaskLineageResponse, "tasks" | "edges" | "totals">;

/** How two tasks are linked: made from (`derived`) or waiting for (`depends_on`). */
export type EdgeKind = "derived" | "depends_on";

/** A task linked to the one shown, and how. */
export interface Neighbour {
  task: Task;
  kind: EdgeKind;
  /** The dependency's name (`{{deps.<name>.output}}`); "" for none. */
  name: string;
}

/** The tasks directly above and below one task. */
export interface Neighbours {
  /** Its parent and the tasks it waits for. */
  upstream: Neighbour[];
  /** The tasks made from it or waiting for it. */
  downstream: Neighbour[];
}

/** Reads an edge's kind; anything the server may add later counts as a dependency. */
export function edgeKind(kind: string): EdgeKind {
  return kind === "derived" ? "derived" : "depends_on";
}

/**
 * The direct links of task `id`, parents before dependencies and each group
 * oldest first, for the text links beside the graph.
 */
export function neighboursOf(lineage: Lineage, id: string): Neighbours {
  const byId = tasksById(lineage);
  const upstream: Neighbour[] = [];
  const downstream: Neighbour[] = [];
  for (const edge of lineage.edges) {
    const other = edge.childId === id ? edge.parentId : edge.parentId === id ? edge.childId : "";
    const task = byId.get(other);
    if (task === undefined) continue;
    const link = { task, kind: edgeKind(edge.kind), name: edge.name };
    (edge.childId === id ? upstream : downstream).push(link);
  }
  const order = (a: Neighbour, b: Neighbour) =>
    a.kind !== b.kind ? (a.kind === "derived" ? -1 : 1) : compareIds(a.task.id, b.task.id);
  return { upstream: upstream.sort(order), downstream: downstream.sort(order) };
}

/**
 * Each task's distance from task `id`: negative above it, positive below,
 * from the edges' depths (an edge's depth places its far end).
 */
export function taskDepths(lineage: Lineage, id: string): Map<string, number> {
  const depths = new Map<string, number>([[id, 0]]);
  const place = (taskId: string, depth: number) => {
    const known = depths.get(taskId);
    if (known === undefined || Math.abs(depth) < Math.abs(known)) depths.set(taskId, depth);
  };
  for (const edge of lineage.edges) {
    if (edge.depth < 0) place(edge.parentId, edge.depth);
    else if (edge.depth > 0) place(edge.childId, edge.depth);
  }
  return depths;
}

/** The lineage's tasks top to bottom: ancestors first, then by creation. */
export function tasksInOrder(lineage: Lineage, id: string): Task[] {
  const depths = taskDepths(lineage, id);
  const depth = (t: Task) => depths.get(t.id) ?? 0;
  return [...lineage.tasks].sort((a, b) => depth(a) - depth(b) || compareIds(a.id, b.id));
}

/**
 * The lineage with `task` in place of its older copy, so the task the page
 * watches on its own stream is never shown staler than in the header.
 */
export function withLatestTask(lineage: Lineage, task: Task | undefined): Lineage {
  if (task === undefined) return lineage;
  const i = lineage.tasks.findIndex((t) => t.id === task.id);
  const held = lineage.tasks[i];
  if (held === undefined || updatedMs(held) > updatedMs(task) || held === task) return lineage;
  const tasks = [...lineage.tasks];
  tasks[i] = task;
  return { ...lineage, tasks };
}

/**
 * Whether a change to `task` (from WatchTasks) can change this lineage: the
 * task is in it, made from one of its tasks, or in the same chain. Any
 * `created` task may too: WatchTasks does not send depends_on, and a task
 * linked only by depends_on has no chain, so a new one is only found by
 * fetching the lineage again (bursts of creations cost one refetch).
 */
export function touchesLineage(
  task: Task,
  lineage: Lineage,
  chainId: string,
  created = false,
): boolean {
  if (created) return true;
  const ids = new Set(lineage.tasks.map((t) => t.id));
  if (ids.has(task.id)) return true;
  if (task.parentTaskId !== undefined && ids.has(task.parentTaskId)) return true;
  return chainId !== "" && task.chainId === chainId;
}

/**
 * Whether `seen` (a newer copy of the task from WatchTasks or the lineage)
 * says a task shown as finished has moved on, e.g. retried from upstream.
 * Its own watch has ended by then, so the page must fetch it again.
 */
export function movedOnFrom(shown: Task | undefined, seen: Task | undefined): boolean {
  if (shown === undefined || seen === undefined || seen.id !== shown.id) return false;
  if (isActive(shown.status) || seen.status === shown.status) return false;
  return updatedMs(seen) > updatedMs(shown);
}

/** How many of the chain's tasks are in each status, in lifecycle order, zeros left out. */
export function statusCounts(totals: ChainTotals | undefined): Array<[TaskStatus, number]> {
  const counts = new Map<TaskStatus, number>();
  for (const c of totals?.counts ?? []) {
    counts.set(c.status, (counts.get(c.status) ?? 0) + Number(c.count));
  }
  return STATUSES.flatMap((s) => {
    const n = counts.get(s) ?? 0;
    return n > 0 ? [[s, n] as [TaskStatus, number]] : [];
  });
}

function tasksById(lineage: Lineage): Map<string, Task> {
  return new Map(lineage.tasks.map((t) => [t.id, t]));
}

// Ids are UUIDv7: their order is creation order.
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function updatedMs(task: Task): number {
  return task.updatedAt === undefined ? 0 : timestampMs(task.updatedAt);
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** For a task cancelled with UPSTREAM_FAILED, the id of the upstream task its message names. */
export function upstreamTaskId(error: TaskError | undefined): string | undefined {
  if (error?.code !== "UPSTREAM_FAILED") return undefined;
  return UUID.exec(error.message)?.[0]?.toLowerCase();
}
