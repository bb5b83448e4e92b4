import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { type Task, TaskStatus } from "@promptline/proto";
import { useLayoutEffect, useRef } from "react";
import { Link, useParams } from "react-router";
import { buttonClass } from "../components/Button";
import { CopyButton } from "../components/CopyButton";
import { ErrorNotice } from "../components/ErrorNotice";
import { Facts } from "../components/Facts";
import { LiveIndicator } from "../components/LiveIndicator";
import { PageHeader } from "../components/PageHeader";
import { Panel } from "../components/Panel";
import { RelativeTime, useNow } from "../components/RelativeTime";
import { Skeleton } from "../components/Skeleton";
import { StatusChip } from "../components/StatusChip";
import {
  formatAbsolute,
  formatCost,
  formatCount,
  formatDuration,
  isActive,
  priorityLabel,
  spanMs,
  taskTitle,
  toDate,
  toMs,
} from "../format";
import { useTaskWatch } from "../live/useTaskWatch";
import type { LiveStatus } from "../live/watchLoop";

/**
 * One task: its status, prompt, output, error, timings, model and usage.
 * While the task can still change it is watched live (output appears as it
 * is written), or polled every 2 s when the stream can't be used.
 */
export function TaskDetailPage() {
  const { id = "" } = useParams();
  // Keyed by id: following a "Made from" link starts a fresh watch.
  return <TaskDetail key={id} id={id} />;
}

function TaskDetail({ id }: { id: string }) {
  const { query, task, live } = useTaskWatch(id);

  if (task === undefined) {
    if (query.isPending) return <DetailSkeleton />;
    // A malformed id in the URL (InvalidArgument) is as good as a missing task.
    const missing =
      query.error?.code === Code.NotFound || query.error?.code === Code.InvalidArgument;
    if (query.isError && !missing) {
      return (
        <>
          <BackLink />
          <ErrorNotice
            error={query.error}
            context="Couldn't load this task"
            onRetry={() => void query.refetch()}
          />
        </>
      );
    }
    return <TaskNotFound id={id} />;
  }
  return <TaskView task={task} live={live} />;
}

function BackLink() {
  return (
    <Link
      to="/"
      className="mb-4 inline-flex items-center gap-1 rounded text-sm text-fg-muted hover:text-fg"
    >
      <span aria-hidden="true">←</span> All tasks
    </Link>
  );
}

function TaskView({ task, live }: { task: Task; live: LiveStatus }) {
  const active = isActive(task.status);
  return (
    <>
      <title>{`${taskTitle(task, 60)} · Promptline`}</title>
      <BackLink />
      <PageHeader
        title={taskTitle(task, 120)}
        description={
          <span className="flex flex-wrap items-center gap-x-3 gap-y-1">
            <span className="font-mono text-xs">{task.id}</span>
            <span>
              created <RelativeTime value={task.createdAt} />
            </span>
            {active && <LiveIndicator status={live} />}
          </span>
        }
        actions={<StatusChip status={task.status} testId="task-status" size="md" />}
      />

      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_24rem]">
        <div className="min-w-0 space-y-6">
          {(task.status === TaskStatus.FAILED || task.error !== undefined) && (
            <ErrorPanel task={task} />
          )}
          <OutputPanel task={task} />
          <Panel title="Prompt" actions={<CopyButton text={task.prompt} label="Copy prompt" />}>
            <pre className="max-h-96 overflow-auto font-mono text-sm break-words whitespace-pre-wrap">
              {task.prompt}
            </pre>
          </Panel>
          {task.systemPrompt !== "" && (
            <Panel title="System message">
              <pre className="max-h-64 overflow-auto font-mono text-sm break-words whitespace-pre-wrap">
                {task.systemPrompt}
              </pre>
            </Panel>
          )}
        </div>

        <div className="min-w-0 space-y-6">
          <TimingPanel task={task} />
          <Panel title="Model">
            <Facts
              items={[
                { label: "Requested", value: task.model, mono: true },
                { label: "Provider", value: task.provider },
                { label: "Responded as", value: task.responseModel, mono: true },
                { label: "Priority", value: priorityLabel(task.priority) },
                ...paramFacts(task),
              ]}
            />
          </Panel>
          <Panel title="Usage">
            <Facts
              items={[
                { label: "Prompt tokens", value: tokens(task.usage?.promptTokens) },
                { label: "Completion tokens", value: tokens(task.usage?.completionTokens) },
                { label: "Total tokens", value: tokens(task.usage?.totalTokens) },
                { label: "Latency", value: formatDuration(toMs(task.latency)) },
                {
                  label: "Time to first token",
                  value: formatDuration(toMs(task.timeToFirstToken)),
                },
                { label: "Cost", value: formatCost(task.costUsd) },
              ]}
            />
          </Panel>
          <Panel title="Details">
            <Facts
              items={[
                {
                  label: "Attempts",
                  value:
                    task.maxAttempts > 0
                      ? `${task.attempts} of ${task.maxAttempts}`
                      : String(task.attempts),
                },
                { label: "Request id", value: task.requestId, mono: true },
                ...(task.parentTaskId
                  ? [
                      {
                        label: "Made from",
                        value: (
                          <Link
                            to={`/tasks/${task.parentTaskId}`}
                            className="font-mono text-xs text-accent-text underline"
                          >
                            {task.parentTaskId}
                          </Link>
                        ),
                      },
                    ]
                  : []),
                ...Object.entries(task.metadata).map(([key, value]) => ({
                  label: key,
                  value,
                  mono: true,
                })),
              ]}
            />
          </Panel>
        </div>
      </div>
    </>
  );
}

function tokens(n: number | undefined): string {
  return n === undefined || n === 0 ? "" : formatCount(n);
}

function paramFacts(task: Task) {
  const p = task.params;
  const orDefault = (v: number | bigint | undefined) =>
    v === undefined ? <span className="text-fg-subtle">model default</span> : String(v);
  return [
    { label: "Temperature", value: orDefault(p?.temperature) },
    { label: "Top P", value: orDefault(p?.topP) },
    { label: "Max tokens", value: orDefault(p?.maxTokens) },
    { label: "Seed", value: orDefault(p?.seed) },
    {
      label: "Stop",
      value:
        p === undefined || p.stop.length === 0 ? (
          <span className="text-fg-subtle">model default</span>
        ) : (
          p.stop.map((s) => JSON.stringify(s)).join(", ")
        ),
      mono: p !== undefined && p.stop.length > 0,
    },
  ];
}

function emptyOutputMessage(status: TaskStatus): string {
  switch (status) {
    case TaskStatus.PENDING:
    case TaskStatus.QUEUED:
      return "No output yet: the task is waiting for a worker.";
    case TaskStatus.RUNNING:
      return "Waiting for the model's first tokens…";
    case TaskStatus.COMPLETED:
      return "The model returned an empty answer.";
    default:
      return "No output.";
  }
}

// Close enough to the bottom to keep following new output.
const PINNED_SLACK_PX = 24;

function OutputPanel({ task }: { task: Task }) {
  const writing = task.status === TaskStatus.RUNNING;
  const outputRef = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);

  // Follow the output as it grows, unless the reader scrolled up to read.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs again whenever the output grows
  useLayoutEffect(() => {
    const el = outputRef.current;
    if (el !== null && writing && pinned.current) el.scrollTop = el.scrollHeight;
  }, [task.output, writing]);

  return (
    <Panel
      title="Output"
      actions={
        <div className="flex items-center gap-3">
          {writing && (
            <span className="inline-flex items-center gap-1.5 text-xs text-fg-muted">
              <span
                aria-hidden="true"
                className="size-1.5 rounded-full bg-amber-500 motion-safe:animate-pulse"
              />
              Writing…
            </span>
          )}
          <CopyButton text={task.output} label="Copy output" />
        </div>
      }
    >
      {task.output === "" ? (
        <p className="text-sm text-fg-muted">{emptyOutputMessage(task.status)}</p>
      ) : (
        <pre
          ref={outputRef}
          data-testid="task-output"
          aria-busy={writing}
          onScroll={(e) => {
            const el = e.currentTarget;
            pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < PINNED_SLACK_PX;
          }}
          className={`max-h-[32rem] overflow-auto font-mono text-sm leading-relaxed break-words whitespace-pre-wrap ${writing ? "after:ml-px after:text-accent after:content-['▍'] motion-safe:after:animate-caret" : ""}`}
        >
          {task.output}
        </pre>
      )}
    </Panel>
  );
}

function ErrorPanel({ task }: { task: Task }) {
  const err = task.error;
  return (
    <section
      data-testid="task-error"
      aria-labelledby="task-error-heading"
      className="rounded-xl border border-red-200 bg-red-50 p-4 text-red-950 dark:border-red-900 dark:bg-red-950/40 dark:text-red-100"
    >
      <h2 id="task-error-heading" className="text-sm font-semibold">
        {task.status === TaskStatus.CANCELLED ? "Why it was cancelled" : "Why it failed"}
      </h2>
      {err === undefined ? (
        <p className="mt-2 text-sm">The task failed without reporting an error.</p>
      ) : (
        <>
          <p className="mt-2 text-sm break-words whitespace-pre-wrap">
            {err.message !== "" ? err.message : "No message was given."}
          </p>
          <dl className="mt-3 flex flex-wrap gap-x-6 gap-y-1 text-xs">
            <div className="flex gap-1.5">
              <dt className="opacity-75">Code</dt>
              <dd className="font-mono font-medium">{err.code !== "" ? err.code : "—"}</dd>
            </div>
            <div className="flex gap-1.5">
              <dt className="opacity-75">HTTP status</dt>
              <dd className="font-mono font-medium">
                {err.httpStatus !== 0 ? err.httpStatus : "—"}
              </dd>
            </div>
          </dl>
        </>
      )}
    </section>
  );
}

function TimingPanel({ task }: { task: Task }) {
  const now = useNow(isActive(task.status) ? 1000 : 60_000);
  const created = toDate(task.createdAt)?.getTime();
  const started = toDate(task.startedAt)?.getTime();
  const completed = toDate(task.completedAt)?.getTime();
  // Still waiting or still running: count up to now, and say "so far".
  const waitedSoFar = started === undefined && isActive(task.status);
  const ranSoFar = task.status === TaskStatus.RUNNING && completed === undefined;
  const waited = spanMs(created, started ?? (waitedSoFar ? now : undefined));
  const ran = spanMs(started, completed ?? (ranSoFar ? now : undefined));
  return (
    <Panel title="Timeline">
      <Facts
        items={[
          { label: "Created", value: <Moment value={task.createdAt} /> },
          { label: "Queued", value: <Moment value={task.queuedAt} /> },
          { label: "Started", value: <Moment value={task.startedAt} /> },
          { label: "Completed", value: <Moment value={task.completedAt} /> },
          {
            label: "Waited",
            value:
              waited === undefined
                ? ""
                : `${formatDuration(waited)}${waitedSoFar ? " so far" : ""}`,
          },
          {
            label: "Ran",
            value: ran === undefined ? "" : `${formatDuration(ran)}${ranSoFar ? " so far" : ""}`,
          },
        ]}
      />
    </Panel>
  );
}

/** A moment in local time, with the exact UTC instant in the tooltip; "—" when unset. */
function Moment({ value }: { value: Timestamp | undefined }) {
  const date = toDate(value);
  if (date === undefined) return <span className="text-fg-subtle">—</span>;
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {formatAbsolute(date)}
    </time>
  );
}

function TaskNotFound({ id }: { id: string }) {
  return (
    <div className="mx-auto max-w-lg py-12 text-center">
      <title>Task not found · Promptline</title>
      <h1 className="text-2xl font-semibold tracking-tight">Task not found</h1>
      <p className="mt-2 text-sm text-fg-muted">
        There is no task with the id <span className="font-mono break-all">{id}</span>. It may have
        been deleted, or the link is wrong.
      </p>
      <Link to="/" className={`${buttonClass("secondary")} mt-6`}>
        Back to all tasks
      </Link>
    </div>
  );
}

function DetailSkeleton() {
  return (
    <div role="status" aria-label="Loading task" className="space-y-6">
      <Skeleton className="h-4 w-24" />
      <div className="flex items-center justify-between gap-4">
        <Skeleton className="h-8 w-2/3 max-w-md" />
        <Skeleton className="h-6 w-24 rounded-full" />
      </div>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_24rem]">
        <div className="space-y-6">
          <Skeleton className="h-48 w-full rounded-xl" />
          <Skeleton className="h-32 w-full rounded-xl" />
        </div>
        <div className="space-y-6">
          <Skeleton className="h-56 w-full rounded-xl" />
          <Skeleton className="h-40 w-full rounded-xl" />
        </div>
      </div>
    </div>
  );
}
