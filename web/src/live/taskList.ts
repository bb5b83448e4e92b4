import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type Task,
  TaskPriority,
  TaskSort,
  type TaskStatus,
  type WatchTasksResponse,
  WatchTasksResponse_Change,
} from "@promptline/proto";

/** A list view's filter: the fields ListTasks and WatchTasks share. */
export interface TaskListFilter {
  statuses: TaskStatus[];
  query: string;
  model?: string;
  priority?: TaskPriority;
  parentTaskId?: string;
  /** Created at or after this time (epoch ms). */
  createdAfterMs?: number;
  /** Created before this time (epoch ms). */
  createdBeforeMs?: number;
  /** The list's order; newest first when unset. */
  sort?: TaskSort;
  /** Metadata pairs a task must all have. */
  metadata?: Record<string, string>;
}

/**
 * What WatchTasks said since the list was opened, laid over the fetched pages
 * by {@link liveTaskList}. Kept apart from the query cache so that a refetch
 * that started before a change and ends after it can't undo the change.
 */
export interface TaskListOverlay {
  /** The latest version of every task the stream told about. */
  tasks: ReadonlyMap<string, Task>;
  deleted: ReadonlySet<string>;
}

/** An overlay with nothing in it. */
export const emptyTaskListOverlay: TaskListOverlay = { tasks: new Map(), deleted: new Set() };

/**
 * Folds one WatchTasks message into the overlay; returns the same object when
 * it changes nothing (a heartbeat, or a version older than one already held).
 */
export function applyListChange(
  overlay: TaskListOverlay,
  msg: WatchTasksResponse,
): TaskListOverlay {
  const task = msg.task;
  if (task === undefined || task.id === "") return overlay;
  switch (msg.change) {
    case WatchTasksResponse_Change.DELETED: {
      if (overlay.deleted.has(task.id)) return overlay;
      const tasks = new Map(overlay.tasks);
      tasks.delete(task.id);
      return { tasks, deleted: new Set(overlay.deleted).add(task.id) };
    }
    case WatchTasksResponse_Change.CREATED:
    case WatchTasksResponse_Change.UPDATED: {
      if (overlay.deleted.has(task.id)) return overlay;
      const held = overlay.tasks.get(task.id);
      if (held !== undefined && isOlder(task, held)) return overlay;
      return { ...overlay, tasks: new Map(overlay.tasks).set(task.id, task) };
    }
    default:
      return overlay;
  }
}

/** Options for {@link liveTaskList}. */
export interface LiveTaskListOptions {
  filter: TaskListFilter;
  /**
   * True when every matching task is loaded (no next page). Otherwise a task
   * older than the last row shown belongs on a page not loaded yet.
   */
  complete: boolean;
}

/**
 * The list to show: the fetched rows, newest first, with the stream's news
 * laid over them: newer versions replace rows in place, deleted tasks and
 * tasks that no longer match the filter go, and tasks that newly match
 * (created, or moved into a filtered status) join at their place in the order.
 */
export function liveTaskList(
  rows: readonly Task[],
  overlay: TaskListOverlay,
  { filter, complete }: LiveTaskListOptions,
): Task[] {
  if (overlay.tasks.size === 0 && overlay.deleted.size === 0) return [...rows];
  const compare = taskOrder(filter.sort);
  const last = rows.at(-1);
  const shown: Task[] = [];
  const inRows = new Set<string>();
  for (const row of rows) {
    inRows.add(row.id);
    if (overlay.deleted.has(row.id)) continue;
    const news = overlay.tasks.get(row.id);
    const task = news !== undefined && !isOlder(news, row) ? news : row;
    if (matchesFilter(task, filter)) shown.push(task);
  }
  const joining: Task[] = [];
  for (const task of overlay.tasks.values()) {
    if (inRows.has(task.id) || !matchesFilter(task, filter)) continue;
    if (!complete && last !== undefined && compare(task, last) > 0) continue;
    joining.push(task);
  }
  // In time order a task keeps its place; by priority or status an update can move it.
  const timeOrder = filter.sort !== TaskSort.PRIORITY && filter.sort !== TaskSort.STATUS;
  if (joining.length === 0 && timeOrder) return shown;
  return [...shown, ...joining].sort(compare);
}

const byIdDesc = (a: Task, b: Task) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * The server's order for a sort, as a comparator. Ids are UUIDv7, so id
 * order is creation order; priority and status enums are numbered in the
 * same order as the database's.
 */
export function taskOrder(sort: TaskSort | undefined): (a: Task, b: Task) => number {
  switch (sort) {
    case TaskSort.OLDEST_FIRST:
      return (a, b) => byIdDesc(b, a);
    case TaskSort.PRIORITY:
      return (a, b) => effectivePriority(b) - effectivePriority(a) || byIdDesc(a, b);
    case TaskSort.STATUS:
      return (a, b) => a.status - b.status || byIdDesc(a, b);
    default:
      return byIdDesc;
  }
}

// The server stores an unspecified priority as normal.
function effectivePriority(task: Task): TaskPriority {
  return task.priority === TaskPriority.UNSPECIFIED ? TaskPriority.NORMAL : task.priority;
}

/**
 * Keeps only what still changes the view of these rows: versions newer than
 * the row they replace, and tasks that would join the list. Everything else
 * the rows already show (or a refetch made moot), so a page left open for
 * hours holds no more than the news since its last fetch.
 */
export function pruneListOverlay(
  overlay: TaskListOverlay,
  rows: readonly Task[],
  { filter, complete }: LiveTaskListOptions,
): TaskListOverlay {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const compare = taskOrder(filter.sort);
  const last = rows.at(-1);
  let changed = false;
  const tasks = new Map<string, Task>();
  for (const [id, task] of overlay.tasks) {
    const row = byId.get(id);
    const keep =
      row !== undefined
        ? isOlder(row, task)
        : matchesFilter(task, filter) &&
          (complete || last === undefined || compare(task, last) < 0);
    if (keep) tasks.set(id, task);
    else changed = true;
  }
  const deleted = new Set<string>();
  for (const id of overlay.deleted) {
    if (byId.has(id)) deleted.add(id);
    else changed = true;
  }
  return changed ? { tasks, deleted } : overlay;
}

/**
 * Whether a task belongs in a list with this filter, as far as the client can
 * tell. The search words are left to the server (it sends only tasks whose
 * name or prompt match); status is checked here, because a task that leaves
 * the filtered statuses is still sent, so its row can go.
 */
export function matchesFilter(task: Task, filter: TaskListFilter): boolean {
  if (filter.statuses.length > 0 && !filter.statuses.includes(task.status)) return false;
  if (filter.model !== undefined && filter.model !== "" && task.model !== filter.model) {
    return false;
  }
  if (
    filter.priority !== undefined &&
    filter.priority !== TaskPriority.UNSPECIFIED &&
    task.priority !== filter.priority
  ) {
    return false;
  }
  if (filter.parentTaskId !== undefined && task.parentTaskId !== filter.parentTaskId) return false;
  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    if (task.metadata[key] !== value) return false;
  }
  if (filter.createdAfterMs !== undefined || filter.createdBeforeMs !== undefined) {
    const created = task.createdAt === undefined ? undefined : timestampMs(task.createdAt);
    if (created === undefined) return false;
    if (filter.createdAfterMs !== undefined && created < filter.createdAfterMs) return false;
    if (filter.createdBeforeMs !== undefined && created >= filter.createdBeforeMs) return false;
  }
  return true;
}

/** True when `a` is an older version of the same task than `b`. */
function isOlder(a: Task, b: Task): boolean {
  if (a.updatedAt === undefined || b.updatedAt === undefined) return false;
  return timestampMs(a.updatedAt) < timestampMs(b.updatedAt);
}
