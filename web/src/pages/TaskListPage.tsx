import { useInfiniteQuery } from "@connectrpc/connect-query";
import { type Task, TaskService, type TaskStatus } from "@promptline/proto";
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Button, buttonClass } from "../components/Button";
import { ErrorNotice } from "../components/ErrorNotice";
import { inputClass } from "../components/Field";
import { LiveIndicator } from "../components/LiveIndicator";
import { PageHeader } from "../components/PageHeader";
import { RelativeTime } from "../components/RelativeTime";
import { Skeleton } from "../components/Skeleton";
import { StatusChip } from "../components/StatusChip";
import {
  formatCount,
  formatDuration,
  parseStatus,
  priorityLabel,
  STATUSES,
  statusLabel,
  taskTitle,
  toMs,
} from "../format";
import { liveTaskList, type TaskListFilter } from "../live/taskList";
import { useTaskListWatch } from "../live/useTaskListWatch";
import { POLL_INTERVAL_MS } from "../polling";

const PAGE_SIZE = 50;
const SEARCH_DEBOUNCE_MS = 300;

/**
 * The task list: newest first, filtered by status chips and a search box
 * (both kept in the URL, so a filtered view can be bookmarked or shared),
 * with cursor pagination. WatchTasks keeps it live; while that stream can't
 * be used the list is refetched every 2 s.
 */
export function TaskListPage() {
  const [params, setParams] = useSearchParams();
  // One object per distinct URL: a new filter restarts the watch.
  const filter = useMemo<TaskListFilter>(
    () => ({
      statuses: params
        .getAll("status")
        .map(parseStatus)
        .filter((s) => s !== undefined),
      query: params.get("q") ?? "",
    }),
    [params],
  );
  const { statuses, query } = filter;
  const filtered = statuses.length > 0 || query !== "";
  const { overlay, live, prune } = useTaskListWatch(filter);

  const list = useInfiniteQuery(
    TaskService.method.listTasks,
    { pageSize: PAGE_SIZE, pageToken: "", statuses, query },
    {
      pageParamKey: "pageToken",
      getNextPageParam: (last) => (last.nextPageToken === "" ? undefined : last.nextPageToken),
      placeholderData: keepPreviousData,
      refetchInterval: live.mode === "polling" ? POLL_INTERVAL_MS : false,
    },
  );
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

  const setFilters = (next: { statuses?: TaskStatus[]; query?: string }) => {
    const p = new URLSearchParams();
    for (const s of next.statuses ?? statuses) p.append("status", statusLabel(s));
    const q = (next.query ?? query).trim();
    if (q !== "") p.set("q", q);
    setParams(p, { replace: true });
  };

  return (
    <>
      <title>Tasks · Promptline</title>
      <PageHeader
        title="Tasks"
        description={
          <span className="flex flex-wrap items-center gap-x-3 gap-y-1">
            Every prompt you've run, newest first.
            <LiveIndicator status={live} />
          </span>
        }
      />

      <div className="mb-4 flex flex-col gap-3 lg:flex-row lg:items-center lg:justify-between">
        <StatusFilter selected={statuses} onChange={(next) => setFilters({ statuses: next })} />
        <SearchBox value={query} onChange={(q) => setFilters({ query: q })} />
      </div>

      {list.isPending ? (
        <TaskTableSkeleton />
      ) : list.isError && tasks.length === 0 ? (
        <ErrorNotice
          error={list.error}
          context="Couldn't load tasks"
          onRetry={() => void list.refetch()}
        />
      ) : tasks.length === 0 ? (
        <EmptyState filtered={filtered} onClear={() => setFilters({ statuses: [], query: "" })} />
      ) : (
        <>
          <TaskTable tasks={tasks} dimmed={list.isPlaceholderData} />
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

interface StatusFilterProps {
  selected: TaskStatus[];
  onChange: (statuses: TaskStatus[]) => void;
}

function StatusFilter({ selected, onChange }: StatusFilterProps) {
  const chip = (pressed: boolean) =>
    `h-8 rounded-full border px-3 text-sm font-medium transition-colors ${
      pressed
        ? "border-accent bg-accent text-accent-fg"
        : "border-line-strong bg-surface text-fg-muted hover:bg-sunken hover:text-fg"
    }`;
  return (
    <fieldset className="flex flex-wrap items-center gap-2">
      <legend className="sr-only">Filter by status</legend>
      <button
        type="button"
        aria-pressed={selected.length === 0}
        className={chip(selected.length === 0)}
        onClick={() => onChange([])}
      >
        All
      </button>
      {STATUSES.map((status) => {
        const pressed = selected.includes(status);
        return (
          <button
            key={status}
            type="button"
            aria-pressed={pressed}
            className={chip(pressed)}
            onClick={() =>
              onChange(pressed ? selected.filter((s) => s !== status) : [...selected, status])
            }
          >
            {statusLabel(status)}
          </button>
        );
      })}
    </fieldset>
  );
}

interface SearchBoxProps {
  value: string;
  onChange: (query: string) => void;
}

function SearchBox({ value, onChange }: SearchBoxProps) {
  const id = useId();
  const [text, setText] = useState(value);
  const emitted = useRef(value);

  // Follow the URL when it changes from outside (back button, "Clear filters"),
  // but not when it is our own debounced update arriving while the user types on.
  useEffect(() => {
    if (value !== emitted.current) {
      emitted.current = value;
      setText(value);
    }
  }, [value]);

  useEffect(() => {
    if (text.trim() === value) return;
    const timer = setTimeout(() => {
      emitted.current = text.trim();
      onChange(text);
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, value, onChange]);

  return (
    <search className="w-full lg:w-72">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          emitted.current = text.trim();
          onChange(text);
        }}
      >
        <label htmlFor={id} className="sr-only">
          Search tasks
        </label>
        <input
          id={id}
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Search name and prompt…"
          className={inputClass}
        />
      </form>
    </search>
  );
}

interface TaskTableProps {
  tasks: Task[];
  /** Fade while results for a new filter are loading. */
  dimmed: boolean;
}

const th = "px-3 py-2.5 text-left text-xs font-medium uppercase tracking-wide text-fg-subtle";
const td = "px-3 py-3 align-top text-sm";

function TaskTable({ tasks, dimmed }: TaskTableProps) {
  return (
    <div
      className={`overflow-x-auto rounded-xl border border-line bg-surface shadow-xs transition-opacity ${dimmed ? "opacity-60" : ""}`}
      aria-busy={dimmed}
    >
      <table className="w-full border-collapse">
        <caption className="sr-only">Tasks, newest first</caption>
        <thead className="border-b border-line bg-sunken/60">
          <tr>
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
            <TaskRow key={task.id} task={task} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TaskRow({ task }: { task: Task }) {
  const total = task.usage?.totalTokens ?? 0;
  return (
    <tr data-testid="task-row" className="relative transition-colors hover:bg-sunken/70">
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
