import { type Kysely, sql } from "kysely";
import type { TaskStatus } from "../tasks/status.js";
import type { DB } from "./schema.js";

/** Tasks waiting (pending or queued) and running for one model. */
export interface ModelDepth {
  model: string;
  waiting: number;
  running: number;
}

/** What the database knows about the queue: totals now, and the last hour. */
export interface TaskStats {
  /** Every status, zeros included. */
  counts: Record<TaskStatus, number>;
  /** Models with at least one task waiting or running, by model id. */
  models: ModelDepth[];
  finishedLastMinute: number;
  finishedLastHour: number;
  failedLastHour: number;
  /** Provider latency of tasks completed in the last hour; undefined when none has one. */
  latencyP50Ms: number | undefined;
  latencyP95Ms: number | undefined;
}

interface WindowRow {
  last_minute: number;
  last_hour: number;
  failed: number;
  p50: number | null;
  p95: number | null;
}

const ACTIVE: readonly TaskStatus[] = ["pending", "queued", "running"];
const FINISHED: readonly TaskStatus[] = ["completed", "failed", "cancelled"];

/**
 * Two statements. The first counts by status over `tasks_status_id_idx`
 * (an index-only scan) and by model for the few active tasks; the second
 * reads the last hour of finished tasks through `tasks_completed_at_idx`
 * (its status filter is a guard: only finished tasks count, whatever else
 * carries a `completed_at`).
 */
export async function readTaskStats(db: Kysely<DB>): Promise<TaskStats> {
  const [byStatus, windowRows] = await Promise.all([
    sql<{ status: TaskStatus; model: string | null; count: number }>`
      select status, null as model, count(*) as count
      from tasks
      group by status
      union all
      select status, model, count(*) as count
      from tasks
      where status in (${sql.join(ACTIVE)})
      group by status, model
    `.execute(db),
    sql<WindowRow>`
      select
        count(*) filter (where completed_at >= now() - interval '1 minute') as last_minute,
        count(*) as last_hour,
        count(*) filter (where status = 'failed') as failed,
        percentile_cont(0.5) within group (order by latency_ms)
          filter (where status = 'completed') as p50,
        percentile_cont(0.95) within group (order by latency_ms)
          filter (where status = 'completed') as p95
      from tasks
      where completed_at >= now() - interval '1 hour'
        and status in (${sql.join(FINISHED)})
    `.execute(db),
  ]);

  const window = windowRows.rows[0];
  if (window === undefined) throw new Error("an aggregate without GROUP BY returned no row");
  const counts: Record<TaskStatus, number> = {
    pending: 0,
    queued: 0,
    running: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
  };
  const models = new Map<string, ModelDepth>();
  for (const row of byStatus.rows) {
    if (row.model === null) {
      counts[row.status] = row.count;
      continue;
    }
    const depth = models.get(row.model) ?? { model: row.model, waiting: 0, running: 0 };
    if (row.status === "running") depth.running += row.count;
    else depth.waiting += row.count;
    models.set(row.model, depth);
  }
  return {
    counts,
    models: [...models.values()].sort((a, b) => a.model.localeCompare(b.model)),
    finishedLastMinute: window.last_minute,
    finishedLastHour: window.last_hour,
    failedLastHour: window.failed,
    latencyP50Ms: window.p50 ?? undefined,
    latencyP95Ms: window.p95 ?? undefined,
  };
}

/** Which stretch of time {@link readTaskMetrics} reads, in whole seconds. */
export interface MetricsRange {
  /** The width of one bucket. */
  bucketSeconds: number;
  /** How many buckets, ending with the one that holds now. */
  buckets: number;
}

/** Tasks that finished within one bucket of time. */
export interface MetricsBucket {
  start: Date;
  completed: number;
  failed: number;
  cancelled: number;
  latencyP50Ms: number | undefined;
  latencyP95Ms: number | undefined;
  totalTokens: number;
  costUsd: number;
}

/** Tasks of one model that finished within the range. */
export interface ModelUsage {
  model: string;
  finished: number;
  failed: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** Finished tasks over time and by model; buckets cover [start, end). */
export interface TaskMetrics {
  start: Date;
  end: Date;
  buckets: MetricsBucket[];
  models: ModelUsage[];
}

interface BucketRow {
  start: Date;
  end_at: Date;
  completed: number;
  failed: number;
  cancelled: number;
  p50: number | null;
  p95: number | null;
  tokens: number;
  cost: number;
}

interface ModelRow {
  model: string;
  finished: number;
  failed: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
}

/**
 * Buckets align to whole multiples of their width since the epoch, so the
 * same range read twice a few seconds apart puts a task in the same bucket.
 * Both statements run in one transaction: `now()` is the same for both, so
 * the per-model totals cover exactly the buckets. Each reads only the range
 * through `tasks_completed_at_idx` (checked with EXPLAIN); `generate_series`
 * supplies the empty buckets so a chart has no gaps to guess about.
 */
export async function readTaskMetrics(db: Kysely<DB>, range: MetricsRange): Promise<TaskMetrics> {
  const width = sql`make_interval(secs => ${range.bucketSeconds})`;
  // Stable expressions (now() is fixed for the transaction), so the planner
  // compares completed_at with constants and can range-scan the index.
  const endAt = sql`(date_bin(${width}, now(), timestamptz 'epoch') + ${width})`;
  const startAt = sql`(${endAt} - ${width} * ${range.buckets}::int)`;
  const finishedInRange = sql`
    t.completed_at >= ${startAt}
    and t.completed_at < ${endAt}
    and t.status in (${sql.join(FINISHED)})
  `;
  return db.transaction().execute(async (trx) => {
    const buckets = await sql<BucketRow>`
      with finished as (
        select
          date_bin(${width}, t.completed_at, timestamptz 'epoch') as start,
          t.status, t.latency_ms, t.total_tokens, t.cost_usd
        from tasks t
        where ${finishedInRange}
      )
      select
        s.start,
        ${endAt} as end_at,
        count(f.status) filter (where f.status = 'completed') as completed,
        count(f.status) filter (where f.status = 'failed') as failed,
        count(f.status) filter (where f.status = 'cancelled') as cancelled,
        percentile_cont(0.5) within group (order by f.latency_ms)
          filter (where f.status = 'completed') as p50,
        percentile_cont(0.95) within group (order by f.latency_ms)
          filter (where f.status = 'completed') as p95,
        coalesce(sum(f.total_tokens), 0)::int8 as tokens,
        coalesce(sum(f.cost_usd), 0)::float8 as cost
      from generate_series(${startAt}, ${endAt} - ${width}, ${width}) as s(start)
      left join finished f on f.start = s.start
      group by s.start
      order by s.start
    `.execute(trx);
    const models = await sql<ModelRow>`
      select
        t.model,
        count(*) as finished,
        count(*) filter (where t.status = 'failed') as failed,
        coalesce(sum(t.prompt_tokens), 0)::int8 as prompt_tokens,
        coalesce(sum(t.completion_tokens), 0)::int8 as completion_tokens,
        coalesce(sum(t.cost_usd), 0)::float8 as cost
      from tasks t
      where ${finishedInRange}
      group by t.model
      order by t.model
    `.execute(trx);

    const first = buckets.rows[0];
    if (first === undefined) throw new Error("generate_series over a non-empty range gave no row");
    return {
      start: first.start,
      end: first.end_at,
      buckets: buckets.rows.map((r) => ({
        start: r.start,
        completed: r.completed,
        failed: r.failed,
        cancelled: r.cancelled,
        latencyP50Ms: r.p50 ?? undefined,
        latencyP95Ms: r.p95 ?? undefined,
        totalTokens: r.tokens,
        costUsd: r.cost,
      })),
      models: models.rows.map((r) => ({
        model: r.model,
        finished: r.finished,
        failed: r.failed,
        promptTokens: r.prompt_tokens,
        completionTokens: r.completion_tokens,
        costUsd: r.cost,
      })),
    };
  });
}
