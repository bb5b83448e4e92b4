import { Code, ConnectError } from "@connectrpc/connect";
import { useQuery } from "@connectrpc/connect-query";
import {
  type GetQueueStatsResponse,
  type GetTaskMetricsResponse,
  type ListWorkersResponse,
  TaskService,
} from "@promptline/proto";
import { type ReactNode, useId, useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { buttonClass } from "../components/Button";
import { TimeChart } from "../components/charts/TimeChart";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { inputClass } from "../components/Field";
import { PageHeader } from "../components/PageHeader";
import { Panel } from "../components/Panel";
import { RelativeTime } from "../components/RelativeTime";
import { Skeleton } from "../components/Skeleton";
import { StatusChip } from "../components/StatusChip";
import {
  formatCompact,
  formatPercent,
  metricSeries,
  metricTotals,
  RANGES,
  rangeById,
} from "../dashboard";
import { formatCost, formatCount, formatDuration, STATUSES, statusLabel } from "../format";

/**
 * How often the dashboard asks again. TanStack Query stops refetching while
 * the tab is hidden (refetchIntervalInBackground is off) and refetches when
 * it is shown again, so a forgotten tab costs the server nothing.
 */
export const DASHBOARD_REFRESH_MS = 5000;

const live = { refetchInterval: DASHBOARD_REFRESH_MS } as const;

/**
 * The operator's view: what is waiting and running now, throughput, errors
 * and latency over a chosen range, tokens and cost by model, and the workers.
 */
export function DashboardPage() {
  const [params, setParams] = useSearchParams();
  const range = rangeById(params.get("range"));
  const rangeId = useId();

  const stats = useQuery(TaskService.method.getQueueStats, {}, live);
  const metrics = useQuery(
    TaskService.method.getTaskMetrics,
    {
      window: { seconds: BigInt(range.windowSeconds) },
      bucket: { seconds: BigInt(range.bucketSeconds) },
    },
    { ...live, placeholderData: (previous) => previous },
  );
  const workers = useQuery(TaskService.method.listWorkers, {}, live);

  // These RPCs read every user's tasks, so with sign-in on they are for admins.
  if ([stats, metrics, workers].some((q) => isPermissionDenied(q.error))) {
    return (
      <>
        <PageHeader title="Dashboard" />
        <EmptyState title="The dashboard is for admins">
          It shows every user's tasks and the workers, so it needs an admin's API key. Your own
          tasks are on the{" "}
          <Link to="/" className="text-accent-text underline">
            task list
          </Link>
          .
        </EmptyState>
      </>
    );
  }

  return (
    <>
      <PageHeader
        title="Dashboard"
        description={`Refreshes every ${DASHBOARD_REFRESH_MS / 1000} s while this tab is open.`}
        actions={
          <div className="flex items-center gap-2">
            <label htmlFor={rangeId} className="text-sm font-medium text-fg-muted">
              Range
            </label>
            <select
              id={rangeId}
              value={range.id}
              onChange={(e) => setParams({ range: e.target.value }, { replace: true })}
              className={`${inputClass} w-auto`}
            >
              {RANGES.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.label}
                </option>
              ))}
            </select>
          </div>
        }
      />
      <div className="space-y-6">
        <NowSection stats={stats} />
        <MetricsSection metrics={metrics} rangeLabel={range.label.toLowerCase()} />
        <div className="grid gap-6 lg:grid-cols-2">
          <QueueDepthPanel stats={stats} />
          <WorkersPanel workers={workers} />
        </div>
      </div>
    </>
  );
}

function isPermissionDenied(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.PermissionDenied;
}

/** What a section needs from a query: data, the first load, or an error to show. */
interface Loadable<T> {
  data: T | undefined;
  error: unknown;
  isPending: boolean;
  refetch: () => unknown;
}

/** The error, a skeleton, or the content: every section shows one of the three. */
function Load<T>({
  query,
  context,
  skeleton,
  children,
}: {
  query: Loadable<T>;
  context: string;
  skeleton: ReactNode;
  children: (data: T) => ReactNode;
}) {
  // Data already on screen stays there during an outage; the banner says why.
  if (query.data !== undefined) return children(query.data);
  if (query.error !== null && query.error !== undefined) {
    return <ErrorNotice error={query.error} context={context} onRetry={() => query.refetch()} />;
  }
  return skeleton;
}

function Tile({ label, value, hint }: { label: ReactNode; value: ReactNode; hint?: ReactNode }) {
  return (
    <div className="rounded-xl border border-line bg-surface p-4 shadow-xs">
      <dt className="text-xs font-medium text-fg-muted">{label}</dt>
      <dd className="mt-1 text-2xl font-semibold tracking-tight tabular-nums">{value}</dd>
      {hint !== undefined && <dd className="mt-0.5 text-xs text-fg-muted">{hint}</dd>}
    </div>
  );
}

function TilesSkeleton({ count }: { count: number }) {
  return (
    <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
      {Array.from({ length: count }, (_, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: placeholders have no identity.
        <div key={i} className="space-y-2 rounded-xl border border-line bg-surface p-4">
          <Skeleton className="h-3 w-16" />
          <Skeleton className="h-7 w-12" />
        </div>
      ))}
    </div>
  );
}

function NowSection({ stats }: { stats: Loadable<GetQueueStatsResponse> }) {
  return (
    <section aria-labelledby="dash-now" className="space-y-3">
      <h2 id="dash-now" className="text-sm font-semibold text-fg">
        Tasks by status
      </h2>
      <Load
        query={stats}
        context="Couldn't load the queue stats"
        skeleton={<TilesSkeleton count={6} />}
      >
        {(s) => (
          <dl
            className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6"
            data-testid="status-counts"
          >
            {STATUSES.map((status) => {
              const count = s.counts.find((c) => c.status === status)?.count ?? 0n;
              const label = statusLabel(status);
              return (
                <Tile
                  key={status}
                  label={<StatusChip status={status} />}
                  value={
                    <Link
                      to={`/?status=${label}`}
                      aria-label={`${formatCount(Number(count))} ${label}: show them`}
                      className="rounded hover:underline"
                      data-testid={`count-${label}`}
                    >
                      {formatCount(Number(count))}
                    </Link>
                  }
                />
              );
            })}
          </dl>
        )}
      </Load>
    </section>
  );
}

const countFormat = (v: number) => formatCompact(v);
const percentFormat = (v: number) => formatPercent(v);
const latencyFormat = (v: number) => formatDuration(v);

function MetricsSection({
  metrics,
  rangeLabel,
}: {
  metrics: Loadable<GetTaskMetricsResponse>;
  rangeLabel: string;
}) {
  const data = metrics.data;
  const series = useMemo(() => (data === undefined ? undefined : metricSeries(data)), [data]);
  const totals = useMemo(() => (data === undefined ? undefined : metricTotals(data)), [data]);
  const chartSkeleton = <Skeleton className="h-[180px] w-full" />;
  return (
    <section aria-labelledby="dash-metrics" className="space-y-3">
      <h2 id="dash-metrics" className="text-sm font-semibold text-fg">
        Finished tasks, {rangeLabel}
      </h2>
      <Load
        query={metrics}
        context="Couldn't load the task metrics"
        skeleton={<TilesSkeleton count={4} />}
      >
        {() =>
          totals === undefined ? null : (
            <dl className="grid grid-cols-2 gap-3 lg:grid-cols-4" data-testid="metric-totals">
              <Tile
                label="Finished"
                value={formatCount(totals.finished)}
                hint={`${formatCount(totals.completed)} completed`}
              />
              <Tile
                label="Error rate"
                value={formatPercent(totals.errorRate)}
                hint={`${formatCount(totals.failed)} failed, ${formatCount(totals.cancelled)} cancelled`}
              />
              <Tile label="Tokens" value={formatCompact(totals.tokens)} />
              <Tile
                label="Cost"
                value={formatCost(totals.costUsd)}
                hint="Models with a price only"
              />
            </dl>
          )
        }
      </Load>
      <div className="grid gap-6 lg:grid-cols-2">
        <Panel title="Throughput">
          <Load query={metrics} context="Couldn't load throughput" skeleton={chartSkeleton}>
            {() =>
              series === undefined || totals === undefined ? null : (
                <TimeChart
                  testId="chart-throughput"
                  times={series.times}
                  series={[
                    { label: "Completed", values: series.completed, color: "good" },
                    { label: "Failed", values: series.failed, color: "bad" },
                    { label: "Cancelled", values: series.cancelled, color: "neutral" },
                  ]}
                  format={countFormat}
                  integer
                  summary={`Tasks finished per interval, ${rangeLabel}: ${totals.completed} completed, ${totals.failed} failed, ${totals.cancelled} cancelled.`}
                />
              )
            }
          </Load>
        </Panel>
        <Panel title="Error rate">
          <Load query={metrics} context="Couldn't load the error rate" skeleton={chartSkeleton}>
            {() =>
              series === undefined || totals === undefined ? null : (
                <TimeChart
                  testId="chart-errors"
                  times={series.times}
                  series={[{ label: "Failed ÷ finished", values: series.errorRate, color: "bad" }]}
                  format={percentFormat}
                  summary={`Share of finished tasks that failed, ${rangeLabel}: ${formatPercent(totals.errorRate)} overall.`}
                />
              )
            }
          </Load>
        </Panel>
        <Panel title="Latency">
          <Load query={metrics} context="Couldn't load latency" skeleton={chartSkeleton}>
            {() =>
              series === undefined ? null : (
                <TimeChart
                  testId="chart-latency"
                  times={series.times}
                  series={[
                    { label: "p50", values: series.p50Ms, color: "1" },
                    { label: "p95", values: series.p95Ms, color: "2" },
                  ]}
                  format={latencyFormat}
                  integer
                  summary={`Provider latency of completed tasks per interval (median and 95th percentile), ${rangeLabel}.`}
                />
              )
            }
          </Load>
        </Panel>
        <Panel title="Tokens">
          <Load query={metrics} context="Couldn't load token usage" skeleton={chartSkeleton}>
            {() =>
              series === undefined || totals === undefined ? null : (
                <TimeChart
                  testId="chart-tokens"
                  times={series.times}
                  series={[{ label: "Tokens", values: series.tokens, color: "1" }]}
                  format={countFormat}
                  integer
                  summary={`Tokens used per interval, ${rangeLabel}: ${formatCount(totals.tokens)} in all.`}
                />
              )
            }
          </Load>
        </Panel>
      </div>
      <Panel title="By model">
        <Load query={metrics} context="Couldn't load usage by model" skeleton={<RowsSkeleton />}>
          {(m) =>
            m.models.length === 0 ? (
              <EmptyState
                level={3}
                size="sm"
                title={`No tasks finished, ${rangeLabel}`}
                action={
                  <Link to="/tasks/new" className={buttonClass("primary", "sm")}>
                    New task
                  </Link>
                }
              >
                Tokens and cost per model appear here once tasks finish. Create a task, or pick a
                longer range.
              </EmptyState>
            ) : (
              <Table
                testId="model-usage"
                caption={`Tokens and cost by model, ${rangeLabel}`}
                head={["Model", "Finished", "Failed", "Prompt tokens", "Completion tokens", "Cost"]}
                rows={m.models.map((u) => ({
                  key: u.model,
                  cells: [
                    <span key="m" className="font-mono text-xs">
                      {u.model}
                    </span>,
                    formatCount(Number(u.finished)),
                    formatCount(Number(u.failed)),
                    formatCount(Number(u.promptTokens)),
                    formatCount(Number(u.completionTokens)),
                    formatCost(u.costUsd),
                  ],
                }))}
              />
            )
          }
        </Load>
      </Panel>
    </section>
  );
}

function QueueDepthPanel({ stats }: { stats: Loadable<GetQueueStatsResponse> }) {
  return (
    <Panel title="Queue depth by model">
      <Load query={stats} context="Couldn't load the queue depth" skeleton={<RowsSkeleton />}>
        {(s) => (
          <div className="space-y-3">
            <p className="text-xs text-fg-muted" data-testid="queue-jobs">
              Jobs in Redis: {formatCount(Number(s.queueWaiting))} waiting,{" "}
              {formatCount(Number(s.queueDelayed))} delayed, {formatCount(Number(s.queueActive))}{" "}
              active.
            </p>
            {s.models.length === 0 ? (
              <EmptyState level={3} size="sm" title="Nothing waiting or running">
                The queue is empty. Tasks appear here per model while they wait for a worker or run.
              </EmptyState>
            ) : (
              <Table
                testId="queue-depth"
                caption="Tasks waiting and running, per model"
                head={["Model", "Waiting", "Running"]}
                rows={s.models.map((d) => ({
                  key: d.model,
                  cells: [
                    <span key="m" className="font-mono text-xs">
                      {d.model}
                    </span>,
                    formatCount(Number(d.waiting)),
                    formatCount(Number(d.running)),
                  ],
                }))}
              />
            )}
          </div>
        )}
      </Load>
    </Panel>
  );
}

function WorkersPanel({ workers }: { workers: Loadable<ListWorkersResponse> }) {
  return (
    <Panel title="Workers">
      <Load query={workers} context="Couldn't load the workers" skeleton={<RowsSkeleton />}>
        {(w) =>
          w.workers.length === 0 ? (
            <EmptyState level={3} size="sm" title="No workers are running">
              Tasks wait in the queue until a worker picks them up. Start one with{" "}
              <code className="font-mono text-xs">pnpm start worker</code>, or run{" "}
              <code className="font-mono text-xs">pnpm start</code> for the API and a worker in one
              process.
            </EmptyState>
          ) : (
            <Table
              testId="workers"
              caption="Worker processes and what they are doing"
              head={["Worker", "Busy", "Processed", "Failed", "Last seen"]}
              rows={w.workers.map((worker) => ({
                key: worker.id,
                cells: [
                  <span key="w" className="font-mono text-xs">
                    {worker.host}:{worker.pid}
                  </span>,
                  `${worker.active} / ${worker.concurrency}`,
                  formatCount(Number(worker.processed)),
                  formatCount(Number(worker.failed)),
                  <RelativeTime key="t" value={worker.lastSeenAt} />,
                ],
              }))}
            />
          )
        }
      </Load>
    </Panel>
  );
}

function RowsSkeleton() {
  return (
    <div className="space-y-3">
      {[0, 1, 2].map((i) => (
        <Skeleton key={i} className="h-5 w-full" />
      ))}
    </div>
  );
}

/** A small data table that scrolls sideways on a phone instead of squeezing. */
function Table({
  caption,
  head,
  rows,
  testId,
}: {
  caption: string;
  head: string[];
  rows: { key: string; cells: ReactNode[] }[];
  testId: string;
}) {
  return (
    // A focusable scroll region, so a keyboard can scroll it too.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: scrollable regions must be reachable by keyboard (WCAG 2.1.1).
    <section className="-mx-4 overflow-x-auto px-4" tabIndex={0} aria-label={caption}>
      <table className="w-full text-sm" data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr className="border-b border-line text-left text-xs text-fg-muted">
            {head.map((h, i) => (
              <th
                key={h}
                scope="col"
                className={`py-2 pe-4 font-medium ${i > 0 ? "text-right" : ""}`}
              >
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} className="border-b border-line last:border-0">
              {row.cells.map((cell, i) => (
                <td
                  // biome-ignore lint/suspicious/noArrayIndexKey: columns are fixed by `head`.
                  key={i}
                  className={`py-2 pe-4 whitespace-nowrap ${i > 0 ? "text-right tabular-nums" : ""}`}
                >
                  {cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
