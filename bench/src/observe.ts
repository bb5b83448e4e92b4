import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Task, TaskStatus } from "@promptline/proto";
import type pg from "pg";
import { epochMs, sleep } from "./context.js";
import type { TaskClient } from "./promptline.js";

/** A finished task's server timestamps, epoch milliseconds with microseconds kept. */
export interface TaskTimes {
  status: string;
  createdAt: number;
  queuedAt: number | undefined;
  startedAt: number | undefined;
  completedAt: number | undefined;
}

/** When the observer saw the task finished, by the bench's clock, and the server's timestamps. */
export interface Observation {
  observedAt: number;
  times: TaskTimes;
}

/**
 * How the bench learns that a task finished. The end-to-end scenario takes
 * one, so the method can change without touching the scenario: by a
 * WatchTask stream (what issue 8 asks for, the default), or by polling.
 */
export interface CompletionObserver {
  readonly name: string;
  readonly description: string;
  /** Resolves when the task is terminal. */
  waitForFinish(taskId: string, timeoutMs: number): Promise<Observation>;
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/**
 * Reads the task's row straight from PostgreSQL every `intervalMs`: no
 * LISTEN, and no load on the API process being measured. The reporting
 * phase it shows is the polling delay, not Promptline's fan-out.
 */
export function dbPollObserver(pool: pg.Pool, intervalMs: number): CompletionObserver {
  return {
    name: "db-poll",
    description: `polls the task's row in PostgreSQL every ${intervalMs} ms (no LISTEN)`,
    async waitForFinish(taskId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const times = await readTimes(pool, taskId);
        const observedAt = epochMs();
        if (times !== undefined && TERMINAL.has(times.status)) return { observedAt, times };
        if (Date.now() > deadline)
          throw new Error(`task ${taskId} did not finish in ${timeoutMs} ms`);
        await sleep(intervalMs);
      }
    },
  };
}

/** Calls GetTask every `intervalMs`: what a client without WatchTask does, at the API's expense. */
export function getTaskPollObserver(client: TaskClient, intervalMs: number): CompletionObserver {
  return {
    name: "gettask-poll",
    description: `calls GetTask every ${intervalMs} ms`,
    async waitForFinish(taskId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { task } = await client.getTask({ id: taskId });
        const observedAt = epochMs();
        if (task !== undefined && isTerminal(task.status))
          return { observedAt, times: timesOf(task) };
        if (Date.now() > deadline)
          throw new Error(`task ${taskId} did not finish in ${timeoutMs} ms`);
        await sleep(intervalMs);
      }
    },
  };
}

/**
 * Opens WatchTask on the task and waits for the message that says it
 * finished: what issue 8 asks the end-to-end figure to be seen on. The
 * reporting phase then measures Promptline's own fan-out (commit → Redis
 * pub/sub → API process → stream).
 */
export function watchObserver(client: TaskClient): CompletionObserver {
  return {
    name: "watch",
    description: "a WatchTask stream opened right after CreateTask returns (Connect, HTTP/1.1)",
    async waitForFinish(taskId, timeoutMs) {
      const signal = AbortSignal.timeout(timeoutMs);
      for await (const message of client.watchTask({ id: taskId }, { signal })) {
        const observedAt = epochMs();
        if (message.event.case !== "task" || !isTerminal(message.event.value.status)) continue;
        return { observedAt, times: timesOf(message.event.value) };
      }
      throw new Error(`WatchTask for ${taskId} ended before the task finished`);
    },
  };
}

function timesOf(task: Task): TaskTimes {
  const ms = (t: Task["createdAt"]) => (t === undefined ? undefined : timestampMs(t));
  const createdAt = ms(task.createdAt);
  if (createdAt === undefined) throw new Error(`task ${task.id} has no created_at`);
  return {
    status: TaskStatus[task.status].toLowerCase(),
    createdAt,
    queuedAt: ms(task.queuedAt),
    startedAt: ms(task.startedAt),
    completedAt: ms(task.completedAt),
  };
}

function isTerminal(status: TaskStatus): boolean {
  return (
    status === TaskStatus.COMPLETED ||
    status === TaskStatus.FAILED ||
    status === TaskStatus.CANCELLED
  );
}

interface TimesRow {
  status: string;
  created_at: number;
  queued_at: number | null;
  started_at: number | null;
  completed_at: number | null;
}

/** Timestamps as epoch milliseconds in float8, so the microseconds a JS Date would drop survive. */
const TIMES_COLUMNS = `status,
  extract(epoch from created_at) * 1000 as created_at,
  extract(epoch from queued_at) * 1000 as queued_at,
  extract(epoch from started_at) * 1000 as started_at,
  extract(epoch from completed_at) * 1000 as completed_at`;

async function readTimes(pool: pg.Pool, taskId: string): Promise<TaskTimes | undefined> {
  const { rows } = await pool.query<TimesRow>({
    name: "bench-task-times",
    text: `select ${TIMES_COLUMNS} from tasks where id = $1`,
    values: [taskId],
  });
  const row = rows[0];
  return row === undefined ? undefined : toTimes(row);
}

function toTimes(row: TimesRow): TaskTimes {
  return {
    status: row.status,
    createdAt: Number(row.created_at),
    queuedAt: row.queued_at === null ? undefined : Number(row.queued_at),
    startedAt: row.started_at === null ? undefined : Number(row.started_at),
    completedAt: row.completed_at === null ? undefined : Number(row.completed_at),
  };
}

/** How many tasks have reached each terminal state; the rest are still on their way. */
export interface SettledCounts {
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export async function settledCounts(pool: pg.Pool): Promise<SettledCounts> {
  const { rows } = await pool.query<{
    total: number;
    completed: number;
    failed: number;
    cancelled: number;
  }>(`select count(*)::int as total,
      count(*) filter (where status = 'completed')::int as completed,
      count(*) filter (where status = 'failed')::int as failed,
      count(*) filter (where status = 'cancelled')::int as cancelled
    from tasks`);
  const row = rows[0];
  if (row === undefined) throw new Error("count returned no row");
  return row;
}

/**
 * Polls until no task is left pending, queued or running and then checks
 * that `expected` tasks completed. Fails at once when one failed or was
 * cancelled (a benchmark of failing tasks measures nothing), or after
 * `timeoutMs`. Each poll reads only unfinished and failed rows through the
 * status index, so it costs little while the system is measured; rates come
 * from server timestamps, not from when this poll noticed.
 */
export async function waitForCompleted(
  pool: pg.Pool,
  expected: number,
  { timeoutMs, intervalMs = 100 }: { timeoutMs: number; intervalMs?: number },
): Promise<SettledCounts> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ status: string; n: number }>({
      name: "bench-unfinished",
      text: `select status, count(*)::int as n from tasks
        where status in ('pending', 'queued', 'running', 'failed', 'cancelled') group by status`,
    });
    const bad = rows.filter((r) => r.status === "failed" || r.status === "cancelled");
    if (bad.length > 0) {
      const { rows: examples } = await pool.query<{ error_code: string; error_message: string }>(
        "select error_code, error_message from tasks where status in ('failed', 'cancelled') limit 3",
      );
      throw new Error(
        `tasks did not complete: ${bad.map((r) => `${r.n} ${r.status}`).join(", ")}, e.g. ${JSON.stringify(examples)}`,
      );
    }
    if (rows.length === 0) {
      const counts = await settledCounts(pool);
      if (counts.completed >= expected) return counts;
    }
    if (Date.now() > deadline) {
      const counts = await settledCounts(pool);
      throw new Error(`only ${counts.completed} of ${expected} tasks completed in ${timeoutMs} ms`);
    }
    await sleep(intervalMs);
  }
}

/** The span of a set of tasks by server timestamps: first start / creation to last completion. */
export interface TaskSpan {
  count: number;
  completed: number;
  firstCreatedAt: number;
  firstStartedAt: number;
  lastCompletedAt: number;
}

export async function taskSpan(pool: pg.Pool, ids: readonly string[]): Promise<TaskSpan> {
  const { rows } = await pool.query<{
    count: number;
    completed: number;
    first_created_at: number;
    first_started_at: number;
    last_completed_at: number;
  }>(
    `select count(*)::int as count,
       count(*) filter (where status = 'completed')::int as completed,
       extract(epoch from min(created_at)) * 1000 as first_created_at,
       extract(epoch from min(started_at)) * 1000 as first_started_at,
       extract(epoch from max(completed_at)) * 1000 as last_completed_at
     from tasks where id = any($1::uuid[])`,
    [ids],
  );
  const row = rows[0];
  if (row === undefined) throw new Error("span returned no row");
  return {
    count: row.count,
    completed: row.completed,
    firstCreatedAt: Number(row.first_created_at),
    firstStartedAt: Number(row.first_started_at),
    lastCompletedAt: Number(row.last_completed_at),
  };
}
