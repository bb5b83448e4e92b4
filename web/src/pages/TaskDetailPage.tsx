import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { type GetTaskResponse, type Task, type TaskEvent, TaskStatus } from "@promptline/proto";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { buttonClass } from "../components/Button";
import { CopyButton } from "../components/CopyButton";
import { ErrorNotice } from "../components/ErrorNotice";
import { Facts } from "../components/Facts";
import { LiveIndicator } from "../components/LiveIndicator";
import { ChainPanel } from "../components/lineage/ChainPanel";
import { LineagePanel } from "../components/lineage/LineagePanel";
import { PageHeader } from "../components/PageHeader";
import { Panel } from "../components/Panel";
import { RelativeTime, useNow } from "../components/RelativeTime";
import { Skeleton } from "../components/Skeleton";
import { StatusChip } from "../components/StatusChip";
import { AttemptsTable } from "../components/taskDetail/AttemptsTable";
import { ErrorPanel } from "../components/taskDetail/ErrorPanel";
import { OutputPanel } from "../components/taskDetail/OutputPanel";
import { StatusTimeline } from "../components/taskDetail/StatusTimeline";
import { TaskActions } from "../components/taskDetail/TaskActions";
import { TEMPLATE_ID_KEY, TemplateOrigin } from "../components/templates/TemplateOrigin";
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
import { type Lineage, movedOnFrom, neighboursOf, withLatestTask } from "../lineage/lineage";
import { type LineageWatch, useLineage } from "../lineage/useLineage";
import { useTaskWatch } from "../live/useTaskWatch";
import type { LiveStatus } from "../live/watchLoop";
import { tokensPerSecond } from "../taskInsights";

/**
 * One task: its status, prompt, output, error, timings, model and usage.
 * While the task can still change it is watched live (output appears as it
 * is written), or polled every 2 s when the stream can't be used. A task
 * linked to others also shows its lineage graph and its chain.
 */
export function TaskDetailPage() {
  const { id = "" } = useParams();
  // Keyed by id: following a "Made from" link starts a fresh watch.
  return <TaskDetail key={id} id={id} />;
}

function TaskDetail({ id }: { id: string }) {
  const { query, task, live } = useTaskWatch(id);
  const { refetch } = query;
  const [seen, setSeen] = useState<Task | undefined>(undefined);
  const lineage = useLineage(id, { chainId: task?.chainId ?? "", onTaskChanged: setSeen });
  const inLineage = lineage.query.data?.tasks.find((t) => t.id === id);
  // A finished task's own watch has ended; a retry upstream brings it back to life.
  useEffect(() => {
    if (movedOnFrom(task, seen) || movedOnFrom(task, inLineage)) void refetch();
  }, [task, seen, inLineage, refetch]);
  // The stream carries the task, not its history: read the events and
  // attempts again whenever the status or the attempt count moves on.
  const fetched = query.data?.task;
  const status = task?.status;
  const attempts = task?.attempts;
  useEffect(() => {
    if (fetched === undefined || status === undefined) return;
    if (fetched.status !== status || fetched.attempts !== attempts) void refetch();
  }, [fetched, status, attempts, refetch]);

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
  const refresh = () => {
    void refetch();
    void lineage.query.refetch();
  };
  return (
    <TaskView
      task={task}
      history={query.data}
      live={live}
      lineage={lineage}
      onChainChanged={refresh}
      onChanged={() => void refetch()}
    />
  );
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

interface TaskViewProps {
  task: Task;
  /** GetTask's answer: the task's events and attempts. */
  history: GetTaskResponse | undefined;
  live: LiveStatus;
  lineage: LineageWatch;
  onChainChanged: () => void;
  onChanged: () => void;
}

function TaskView({ task, history, live, lineage, onChainChanged, onChanged }: TaskViewProps) {
  const active = isActive(task.status);
  const data = lineage.query.data;
  // The header's copy of this task is the freshest: it has its own stream.
  const linked: Lineage | undefined =
    data !== undefined && data.edges.length > 0 ? withLatestTask(data, task) : undefined;
  const upstream = linked === undefined ? [] : neighboursOf(linked, task.id).upstream;
  const waitingFor = upstream.map((n) => n.task).filter((t) => t.status !== TaskStatus.COMPLETED);
  const parent = upstream.find((n) => n.kind === "derived")?.task;
  const rendered = task.renderedPrompt !== "" && task.renderedPrompt !== task.prompt;
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
            {linked !== undefined && (
              <a href="#chain" className="text-accent-text underline">
                In a chain of {linked.totals?.tasks ?? linked.tasks.length} tasks
              </a>
            )}
          </span>
        }
        actions={
          <>
            <StatusChip status={task.status} testId="task-status" size="md" />
            <TaskActions task={task} onChanged={onChanged} />
          </>
        }
      />

      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_24rem]">
        <div className="min-w-0 space-y-6">
          {(task.status === TaskStatus.FAILED || task.error !== undefined) && (
            <ErrorPanel task={task} />
          )}
          <OutputPanel task={task} waitingFor={waitingFor} />
          <Panel title="Attempts">
            <AttemptsTable attempts={history?.attempts ?? []} />
          </Panel>
          <Panel title="Prompt" actions={<CopyButton text={task.prompt} label="Copy prompt" />}>
            <pre className="max-h-96 overflow-auto font-mono text-sm break-words whitespace-pre-wrap">
              {task.prompt}
            </pre>
          </Panel>
          {rendered && (
            <Panel
              title="Prompt as sent"
              actions={<CopyButton text={task.renderedPrompt} label="Copy prompt as sent" />}
            >
              <pre
                data-testid="rendered-prompt"
                className="max-h-96 overflow-auto font-mono text-sm break-words whitespace-pre-wrap"
              >
                {task.renderedPrompt}
              </pre>
            </Panel>
          )}
          {task.systemPrompt !== "" && (
            <Panel title="System message">
              <pre className="max-h-64 overflow-auto font-mono text-sm break-words whitespace-pre-wrap">
                {task.systemPrompt}
              </pre>
            </Panel>
          )}
        </div>

        <div className="min-w-0 space-y-6">
          <TimingPanel task={task} events={history?.events ?? []} />
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
                { label: "Tokens per second", value: speed(task) },
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
                ...(task.runAt !== undefined
                  ? [{ label: "Scheduled for", value: <Moment value={task.runAt} /> }]
                  : []),
                ...(task.parentTaskId
                  ? [
                      {
                        label: "Made from",
                        value: (
                          <Link
                            to={`/tasks/${task.parentTaskId}`}
                            className={`text-accent-text underline ${parent === undefined ? "font-mono text-xs" : ""}`}
                          >
                            {parent !== undefined ? taskTitle(parent, 60) : task.parentTaskId}
                          </Link>
                        ),
                      },
                    ]
                  : []),
                ...(task.dependsOn.length > 0
                  ? [
                      {
                        label: "Depends on",
                        value: <DependsOnList task={task} lineage={data} />,
                      },
                    ]
                  : []),
                ...Object.entries(task.metadata).map(([key, value]) =>
                  key === TEMPLATE_ID_KEY
                    ? { label: "Template", value: <TemplateOrigin id={value} /> }
                    : { label: key, value, mono: true },
                ),
              ]}
            />
          </Panel>
        </div>
      </div>

      {linked !== undefined && (
        <div className="mt-6 space-y-6">
          <LineagePanel lineage={linked} currentId={task.id} />
          <ChainPanel
            lineage={linked}
            currentId={task.id}
            live={lineage.live}
            onChanged={onChainChanged}
          />
        </div>
      )}
    </>
  );
}

/**
 * The upstream tasks this one waits for, from the task itself (GetTask and
 * WatchTask send depends_on); title and status come from the lineage when
 * it holds them, which costs no extra read.
 */
function DependsOnList({ task, lineage }: { task: Task; lineage: Lineage | undefined }) {
  const known = new Map((lineage?.tasks ?? []).map((t) => [t.id, t]));
  return (
    <ul className="space-y-1" data-testid="depends-on">
      {task.dependsOn.map((dep) => {
        if (dep.target.case !== "taskId") return null;
        const id = dep.target.value;
        const upstream = known.get(id);
        return (
          <li key={id} className="flex flex-wrap items-center gap-2">
            <Link
              to={`/tasks/${id}`}
              className={`text-accent-text underline ${upstream === undefined ? "font-mono text-xs" : ""}`}
            >
              {upstream !== undefined ? taskTitle(upstream, 60) : id}
            </Link>
            {dep.name !== "" && <span className="font-mono text-xs text-fg-muted">{dep.name}</span>}
            {upstream !== undefined && <StatusChip status={upstream.status} />}
          </li>
        );
      })}
    </ul>
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

function TimingPanel({ task, events }: { task: Task; events: readonly TaskEvent[] }) {
  const active = isActive(task.status);
  const now = useNow(active ? 1000 : 60_000);
  const created = toDate(task.createdAt)?.getTime();
  const started = toDate(task.startedAt)?.getTime();
  const completed = toDate(task.completedAt)?.getTime();
  // Still waiting or still running: count up to now, and say "so far".
  const waitedSoFar = started === undefined && active;
  const ranSoFar = task.status === TaskStatus.RUNNING && completed === undefined;
  const waited = spanMs(created, started ?? (waitedSoFar ? now : undefined));
  const ran = spanMs(started, completed ?? (ranSoFar ? now : undefined));
  return (
    <Panel title="Timeline">
      <Facts
        items={[
          { label: "Created", value: <Moment value={task.createdAt} /> },
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
          { label: "Finished", value: <Moment value={task.completedAt} /> },
        ]}
      />
      <h3 className="mt-4 mb-2 text-xs font-medium tracking-wide text-fg-subtle uppercase">
        Status changes
      </h3>
      <StatusTimeline events={events} active={active} />
    </Panel>
  );
}

function speed(task: Task): string {
  const tps = tokensPerSecond(task);
  return tps === undefined ? "" : `${tps.toFixed(tps < 10 ? 1 : 0)} tokens/s`;
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
