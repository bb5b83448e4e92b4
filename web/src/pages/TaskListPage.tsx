import { useInfiniteQuery, useQuery } from "@connectrpc/connect-query";
import { type Task, TaskPriority, TaskService, TaskStatus } from "@promptline/proto";
import { keepPreviousData } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Button, buttonClass } from "../components/Button";
import { ErrorNotice } from "../components/ErrorNotice";
import { LiveIndicator } from "../components/LiveIndicator";
import { PageHeader } from "../components/PageHeader";
import { RelativeTime } from "../components/RelativeTime";
import { Skeleton } from "../components/Skeleton";
import { StatusChip } from "../components/StatusChip";
import { BulkBar } from "../components/taskList/BulkBar";
import { ListFilters } from "../components/taskList/ListFilters";
import { formatCount, formatDuration, priorityLabel, taskTitle, toDate, toMs } from "../format";
import {
  isFiltered,
  type ListView,
  listFilter,
  listRequest,
  listViewParams,
  parseListView,
  SORTS,
} from "../listView";
import { liveTaskList, type TaskListOverlay } from "../live/taskList";
import { useTaskListWatch } from "../live/useTaskListWatch";
import { POLL_INTERVAL_MS } from "../polling";

const PAGE_SIZE = 50;
/** How soon after a live change the status counts are fetched again, at most. */
const COUNTS_REFRESH_MS = 1000;

/**
 * The task list: status chips with counts, search, model, priority, a
 * creation date range and the order, all kept in the URL so a view can be
 * bookmarked or shared; cursor pagination; select tasks to cancel, retry or
 * delete them together. WatchTasks keeps it live; while that stream can't
 * be used the list is refetched every 2 s.
 */
export function TaskListPage() {
  const [params, setParams] = useSearchParams();
  // One object per distinct URL: a new filter restarts the watch.
  const view = useMemo(() => parseListView(params), [params]);
  const request = useMemo(() => listRequest(view), [view]);
  const filter = useMemo(() => listFilter(view), [view]);
  const filtered = isFiltered(view);
  const { overlay, live, prune } = useTaskListWatch(filter);

  const list = useInfiniteQuery(
    TaskService.method.listTasks,
    { ...request, pageSize: PAGE_SIZE, pageToken: "" },
    {
      pageParamKey: "pageToken",
      getNextPageParam: (last) => (last.nextPageToken === "" ? undefined : last.nextPageToken),
      placeholderData: keepPreviousData,
      refetchInterval: live.mode === "polling" ? POLL_INTERVAL_MS : false,
    },
  );
  const counts = useStatusCounts(request, overlay, live.mode === "polling");
  const rows = useMemo(
    () => uniqueById(list.data?.pages.flatMap((p) => p.tasks) ?? []),
    [list.data],
  );
  const complete = !list.hasNextPage;
  const tasks = liveTaskList(rows, overlay, { filter, complete });

  // Placeholder rows belong to the previous filter; the overlay to the new one.
  const settled = !list.isPlaceholderData;
  useEffect(() => {
    if (settled) prune(rows, { filter, complete });
  }, [rows, settled, filter, complete, prune]);

  const [selectedIds, setSelectedIds] = useState<ReadonlySet<string>>(new Set());
  // A new view starts with nothing selected: hidden tasks must not be acted on.
  // biome-ignore lint/correctness/useExhaustiveDependencies: clears on every change of view
  useEffect(() => setSelectedIds(new Set()), [view]);
  const selected = tasks.filter((t) => selectedIds.has(t.id));

  const setView = useCallback(
    (next: Partial<ListView>) => {
      setParams((current) => listViewParams({ ...parseListView(current), ...next }), {
        replace: true,
      });
    },
    [setParams],
  );
  const clear = () =>
    setView({
      statuses: [],
      query: "",
      model: "",
      priority: TaskPriority.UNSPECIFIED,
      from: "",
      to: "",
      metadata: {},
    });

  return (
    <>
      <title>Tasks · Promptline</title>
      <PageHeader
        title="Tasks"
        description={
          <span className="flex flex-wrap items-center gap-x-3 gap-y-1">
            Every prompt you've run, {SORTS.find((s) => s.sort === view.sort)?.label.toLowerCase()}.
            <LiveIndicator status={live} />
          </span>
        }
      />

      <ListFilters
        view={view}
        onChange={setView}
        counts={counts}
        filtered={filtered}
        onClear={clear}
      />

      <BulkBar
        selected={selected}
        onClear={() => setSelectedIds(new Set())}
        onDone={(action, succeeded) => {
          if (action !== "delete") return;
          setSelectedIds((ids) => new Set([...ids].filter((id) => !succeeded.includes(id))));
        }}
      />

      {list.isPending ? (
        <TaskTableSkeleton />
      ) : list.isError && tasks.length === 0 ? (
        <ErrorNotice
          error={list.error}
          context="Couldn't load tasks"
          onRetry={() => void list.refetch()}
        />
      ) : tasks.length === 0 ? (
        <EmptyState filtered={filtered} onClear={clear} />
      ) : (
        <>
          <TaskTable
            tasks={tasks}
            dimmed={list.isPlaceholderData}
            caption={`Tasks, ${SORTS.find((s) => s.sort === view.sort)?.label.toLowerCase()}`}
            selected={selectedIds}
            onSelect={setSelectedIds}
          />
          <div className="mt-4 flex flex-col items-center gap-2">
            {list.hasNextPage ? (
              <Button onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                {list.isFetchingNextPage ? "Loading…" : "Load more"}
              </Button>
            ) : null}
            <p className="text-xs text-fg-subtle" aria-live="polite">
              {tasks.length === 1 ? "1 task" : `${formatCount(tasks.length)} tasks`}
              {list.hasNextPage ? " shown" : ""}
            </p>
            {list.isFetchNextPageError && (
              <ErrorNotice
                error={list.error}
                context="Couldn't load more tasks"
                onRetry={() => void list.fetchNextPage()}
              />
            )}
          </div>
        </>
      )}
    </>
  );
}

/**
 * Matching tasks per status for the chips: ListTasks' counts (one row is
 * enough to get them), fetched again shortly after the live stream reports
 * a change, or on the polling beat while the stream is down.
 */
function useStatusCounts(
  request: ReturnType<typeof listRequest>,
  overlay: TaskListOverlay,
  polling: boolean,
): ReadonlyMap<TaskStatus, number> | undefined {
  const query = useQuery(
    TaskService.method.listTasks,
    { ...request, statuses: [], pageSize: 1, includeStatusCounts: true },
    { placeholderData: keepPreviousData, refetchInterval: polling ? POLL_INTERVAL_MS : false },
  );
  const { refetch } = query;
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new overlay is the signal
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const timer = setTimeout(() => void refetch(), COUNTS_REFRESH_MS);
    return () => clearTimeout(timer);
  }, [overlay, refetch]);
  return useMemo(() => {
    const data = query.data;
    if (data === undefined) return undefined;
    return new Map(data.statusCounts.map((c) => [c.status, Number(c.count)]));
  }, [query.data]);
}

// A task can straddle two pages when new ones arrive between page fetches.
function uniqueById(tasks: Task[]): Task[] {
  const seen = new Set<string>();
  const unique: Task[] = [];
  for (const task of tasks) {
    if (seen.has(task.id)) continue;
    seen.add(task.id);
    unique.push(task);
  }
  return unique;
}

interface TaskTableProps {
  tasks: Task[];
  /** Fade while results for a new filter are loading. */
  dimmed: boolean;
  caption: string;
  selected: ReadonlySet<string>;
  onSelect: (ids: ReadonlySet<string>) => void;
}

const th = "px-3 py-2.5 text-left text-xs font-medium uppercase tracking-wide text-fg-subtle";
const td = "px-3 py-3 align-top text-sm";

function TaskTable({ tasks, dimmed, caption, selected, onSelect }: TaskTableProps) {
  const shownSelected = tasks.filter((t) => selected.has(t.id)).length;
  const all = shownSelected === tasks.length;
  const toggle = (id: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    onSelect(next);
  };
  return (
    <div
      className={`overflow-x-auto rounded-xl border border-line bg-surface shadow-xs transition-opacity ${dimmed ? "opacity-60" : ""}`}
      aria-busy={dimmed}
    >
      <table className="w-full border-collapse">
        <caption className="sr-only">{caption}</caption>
        <thead className="border-b border-line bg-sunken/60">
          <tr>
            <th scope="col" className="w-10 py-2.5 pl-3">
              <Checkbox
                label={all ? "Deselect all shown tasks" : "Select all shown tasks"}
                checked={all}
                indeterminate={shownSelected > 0 && !all}
                onChange={(on) => onSelect(new Set(on ? tasks.map((t) => t.id) : []))}
              />
            </th>
            <th scope="col" className={th}>
              Task
            </th>
            <th scope="col" className={th}>
              Status
            </th>
            <th scope="col" className={`${th} hidden md:table-cell`}>
              Model
            </th>
            <th scope="col" className={`${th} hidden lg:table-cell`}>
              Priority
            </th>
            <th scope="col" className={`${th} hidden sm:table-cell`}>
              Created
            </th>
            <th scope="col" className={`${th} hidden text-right sm:table-cell`}>
              Tokens
            </th>
            <th scope="col" className={`${th} hidden text-right sm:table-cell`}>
              Latency
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {tasks.map((task) => (
            <TaskRow
              key={task.id}
              task={task}
              selected={selected.has(task.id)}
              onSelect={(on) => toggle(task.id, on)}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface TaskRowProps {
  task: Task;
  selected: boolean;
  onSelect: (selected: boolean) => void;
}

function TaskRow({ task, selected, onSelect }: TaskRowProps) {
  const total = task.usage?.totalTokens ?? 0;
  return (
    <tr
      data-testid="task-row"
      aria-selected={selected}
      className={`relative transition-colors hover:bg-sunken/70 ${selected ? "bg-accent/5" : ""}`}
    >
      <td className="py-3 pl-3 align-top">
        {/* Above the row link's overlay, so it can be clicked. */}
        <span className="relative z-10">
          <Checkbox
            label={`Select ${taskTitle(task, 60)}`}
            checked={selected}
            onChange={onSelect}
          />
        </span>
      </td>
      <td className={`${td} w-full min-w-0 sm:w-auto sm:max-w-sm`}>
        {/* The link's ::after covers the whole row, so a click anywhere opens the task. */}
        <Link
          to={`/tasks/${task.id}`}
          className="line-clamp-2 font-medium break-words text-fg after:absolute after:inset-0 focus-visible:outline-none focus-visible:after:outline-2 focus-visible:after:-outline-offset-2 focus-visible:after:outline-focus sm:line-clamp-1"
        >
          {taskTitle(task)}
        </Link>
        <span className="mt-0.5 block text-xs text-fg-subtle md:hidden">
          <span className="font-mono break-all">{task.model}</span>
          <span className="whitespace-nowrap sm:hidden">
            {" · "}
            <RelativeTime value={task.createdAt} />
          </span>
        </span>
      </td>
      <td className={td}>
        <StatusChip status={task.status} />
        <ScheduledFor task={task} />
      </td>
      <td
        className={`${td} hidden max-w-48 truncate font-mono text-xs text-fg-muted md:table-cell`}
      >
        {task.model}
      </td>
      <td className={`${td} hidden text-fg-muted lg:table-cell`}>{priorityLabel(task.priority)}</td>
      <td className={`${td} hidden whitespace-nowrap text-fg-muted sm:table-cell`}>
        <RelativeTime value={task.createdAt} />
      </td>
      <td className={`${td} hidden text-right tabular-nums text-fg-muted sm:table-cell`}>
        {total > 0 ? formatCount(total) : "—"}
      </td>
      <td
        className={`${td} hidden text-right whitespace-nowrap tabular-nums text-fg-muted sm:table-cell`}
      >
        {formatDuration(toMs(task.latency))}
      </td>
    </tr>
  );
}

const scheduleFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});

/** "runs Nov 25, 5:30 PM" under a pending task that waits for its run_at. */
function ScheduledFor({ task }: { task: Task }) {
  const at = toDate(task.runAt);
  if (task.status !== TaskStatus.PENDING || at === undefined || at.getTime() <= Date.now()) {
    return null;
  }
  return (
    <time
      dateTime={at.toISOString()}
      title={at.toISOString()}
      className="mt-1 block text-xs whitespace-nowrap text-fg-subtle"
    >
      runs {scheduleFormat.format(at)}
    </time>
  );
}

interface CheckboxProps {
  label: string;
  checked: boolean;
  indeterminate?: boolean;
  onChange: (checked: boolean) => void;
}

function Checkbox({ label, checked, indeterminate = false, onChange }: CheckboxProps) {
  const ref = useRef<HTMLInputElement>(null);
  // "Some selected" exists only as a DOM property, not an attribute.
  useEffect(() => {
    if (ref.current !== null) ref.current.indeterminate = indeterminate;
  }, [indeterminate]);
  return (
    <input
      ref={ref}
      type="checkbox"
      aria-label={label}
      checked={checked}
      onChange={(e) => onChange(e.target.checked)}
      className="size-4 cursor-pointer rounded accent-accent"
    />
  );
}

function TaskTableSkeleton() {
  return (
    <div
      role="status"
      aria-label="Loading tasks"
      className="overflow-hidden rounded-xl border border-line bg-surface shadow-xs"
    >
      <div className="border-b border-line bg-sunken/60 px-3 py-3">
        <Skeleton className="h-3 w-24" />
      </div>
      <ul className="divide-y divide-line">
        {["a", "b", "c", "d", "e", "f"].map((k) => (
          <li key={k} className="flex items-center gap-4 px-3 py-3.5">
            <Skeleton className="h-4 flex-1" />
            <Skeleton className="h-5 w-20 rounded-full" />
            <Skeleton className="hidden h-4 w-32 md:block" />
            <Skeleton className="h-4 w-16" />
          </li>
        ))}
      </ul>
    </div>
  );
}

function EmptyState({ filtered, onClear }: { filtered: boolean; onClear: () => void }) {
  return (
    <div className="flex flex-col items-center gap-3 rounded-xl border border-dashed border-line-strong bg-surface px-6 py-14 text-center">
      {filtered ? (
        <>
          <h2 className="text-base font-semibold">No tasks match these filters</h2>
          <p className="max-w-sm text-sm text-fg-muted">
            Try another status or search term, or clear the filters to see every task.
          </p>
          <Button onClick={onClear}>Clear filters</Button>
        </>
      ) : (
        <>
          <h2 className="text-base font-semibold">No tasks yet</h2>
          <p className="max-w-sm text-sm text-fg-muted">
            A task runs one prompt against a model in the background. Create one and watch it go
            from pending to completed.
          </p>
          <Link to="/tasks/new" className={buttonClass("primary")}>
            Create your first task
          </Link>
        </>
      )}
    </div>
  );
}
