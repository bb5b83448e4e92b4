import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ListTasksRequestSchema,
  TaskPriority,
  TaskSort,
  type TaskStatus,
} from "@promptline/proto";
import { PRIORITIES, parseStatus, priorityLabel, statusLabel } from "./format";
import type { TaskListFilter } from "./live/taskList";
import { parseMetadataPairs } from "./metadataPairs";

/**
 * What the task list shows, as the address bar holds it, so a view can be
 * bookmarked or shared: `?status=failed&status=cancelled&q=report&model=…
 * &priority=high&from=2026-11-01&to=2026-11-24&sort=oldest`.
 */
export interface ListView {
  statuses: TaskStatus[];
  query: string;
  /** Exact model id; "" for all. */
  model: string;
  priority: TaskPriority;
  /** First day shown (local `YYYY-MM-DD`), inclusive; "" for no bound. */
  from: string;
  /** Last day shown (local `YYYY-MM-DD`), inclusive; "" for no bound. */
  to: string;
  sort: TaskSort;
  /** Metadata pairs every task shown has (`?meta=team:red`). */
  metadata: Record<string, string>;
}

/** The orders the list offers, as the words the URL and the select use. */
export const SORTS: ReadonlyArray<{ sort: TaskSort; word: string; label: string }> = [
  { sort: TaskSort.NEWEST_FIRST, word: "newest", label: "Newest first" },
  { sort: TaskSort.OLDEST_FIRST, word: "oldest", label: "Oldest first" },
  { sort: TaskSort.PRIORITY, word: "priority", label: "Priority, highest first" },
  { sort: TaskSort.STATUS, word: "status", label: "Status" },
];

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** A `YYYY-MM-DD` that names a real day, else "". */
function parseDay(value: string | null): string {
  if (value === null || !DAY.test(value)) return "";
  return localDayStart(value) === undefined ? "" : value;
}

/** Midnight at the start of a local calendar day, in epoch ms; undefined for a non-day. */
export function localDayStart(day: string): number | undefined {
  const [y, m, d] = day.split("-").map(Number);
  if (y === undefined || m === undefined || d === undefined) return undefined;
  const date = new Date(y, m - 1, d);
  // Date rolls "2026-02-31" over into March: not a day.
  if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) {
    return undefined;
  }
  return date.getTime();
}

/** Reads a view from the address; anything unknown is ignored, never an error. */
export function parseListView(params: URLSearchParams): ListView {
  const priorityWord = params.get("priority") ?? "";
  const sortWord = params.get("sort") ?? "";
  return {
    statuses: [
      ...new Set(
        params
          .getAll("status")
          .map(parseStatus)
          .filter((s) => s !== undefined),
      ),
    ],
    query: (params.get("q") ?? "").trim(),
    model: (params.get("model") ?? "").trim(),
    priority: PRIORITIES.find((p) => priorityLabel(p) === priorityWord) ?? TaskPriority.UNSPECIFIED,
    from: parseDay(params.get("from")),
    to: parseDay(params.get("to")),
    sort: SORTS.find((s) => s.word === sortWord)?.sort ?? TaskSort.NEWEST_FIRST,
    // A pair that doesn't read is dropped, like any other unknown value.
    metadata: Object.assign(
      {},
      ...params.getAll("meta").map((pair) => parseMetadataPairs(pair) ?? {}),
    ),
  };
}

/** The address for a view: only what differs from the defaults, in a stable order. */
export function listViewParams(view: ListView): URLSearchParams {
  const p = new URLSearchParams();
  for (const s of view.statuses) p.append("status", statusLabel(s));
  if (view.query.trim() !== "") p.set("q", view.query.trim());
  if (view.model !== "") p.set("model", view.model);
  if (view.priority !== TaskPriority.UNSPECIFIED) p.set("priority", priorityLabel(view.priority));
  if (view.from !== "") p.set("from", view.from);
  if (view.to !== "") p.set("to", view.to);
  const sort = SORTS.find((s) => s.sort === view.sort);
  if (sort !== undefined && sort.sort !== TaskSort.NEWEST_FIRST) p.set("sort", sort.word);
  for (const [key, value] of Object.entries(view.metadata)) p.append("meta", `${key}:${value}`);
  return p;
}

/** True when anything but the order narrows the list. */
export function isFiltered(view: ListView): boolean {
  return (
    view.statuses.length > 0 ||
    view.query !== "" ||
    view.model !== "" ||
    view.priority !== TaskPriority.UNSPECIFIED ||
    view.from !== "" ||
    view.to !== "" ||
    Object.keys(view.metadata).length > 0
  );
}

/**
 * The live list's filter for a view (what WatchTasks messages are matched
 * against). Days are the viewer's local days: `from` starts at its midnight,
 * `to` ends at the next one.
 */
export function listFilter(view: ListView): TaskListFilter {
  const from = view.from === "" ? undefined : localDayStart(view.from);
  const toStart = view.to === "" ? undefined : localDayStart(view.to);
  const to = toStart === undefined ? undefined : nextLocalDay(toStart);
  return {
    statuses: view.statuses,
    query: view.query,
    model: view.model,
    priority: view.priority,
    sort: view.sort,
    metadata: view.metadata,
    ...(from !== undefined ? { createdAfterMs: from } : {}),
    ...(to !== undefined ? { createdBeforeMs: to } : {}),
  };
}

/** The ListTasks request for a view: the same filter as {@link listFilter}, in the wire's terms. */
export function listRequest(view: ListView): MessageInitShape<typeof ListTasksRequestSchema> {
  const { createdAfterMs, createdBeforeMs, ...rest } = listFilter(view);
  return {
    ...rest,
    ...(createdAfterMs !== undefined ? { createdAfter: timestampFromMs(createdAfterMs) } : {}),
    ...(createdBeforeMs !== undefined ? { createdBefore: timestampFromMs(createdBeforeMs) } : {}),
  };
}

// Not +24 h: a day with a daylight-saving change is 23 or 25 hours long.
function nextLocalDay(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

/** The `to` day is before the `from` day: the list would be empty by construction. */
export function rangeIsBackwards(view: ListView): boolean {
  return view.from !== "" && view.to !== "" && view.to < view.from;
}
