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
