import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService, TaskStatus, WatchTasksResponse_Change } from "@promptline/proto";
import type pg from "pg";
import { calibrateClock, epochMs, sleep } from "../context.js";
import type { FigureSpec } from "../figures.js";
import { waitForCompleted } from "../observe.js";
import {
  connectClient,
  createMany,
  forEachLimit,
  promptlineEnv,
  type TaskClient,
} from "../promptline.js";
import { summarize } from "../stats.js";
import { checkAllCompleted, repeat, type Scenario } from "./scenario.js";

/** Streams opened at once while attaching the watchers. */
const OPEN_CONCURRENCY = 50;

/** Scenario 4: commit-to-receipt latency of status changes on many WatchTask streams and one WatchTasks stream. */
export const watchLatency: Scenario = {
  id: "watch-latency",
  title: "4. Watch latency",
  async run(ctx) {
    const { tasks, holdMs } = ctx.settings.watchLatency;
    const specs: FigureSpec[] = [
      {
        id: "watch_p50",
        label: "WatchTask streams, commit → receipt p50",
        unit: "ms",
        better: "lower",
        role: "promptline",
      },
      {
        id: "watch_p99",
        label: "WatchTask streams, commit → receipt p99",
        unit: "ms",
        better: "lower",
        role: "promptline",
        targets: [{ kind: "absolute", op: "<", value: 50 }],
      },
      {
        id: "list_p50",
        label: "WatchTasks list stream, commit → receipt p50",
        unit: "ms",
        better: "lower",
        role: "promptline",
      },
      {
        id: "list_p99",
        label: "WatchTasks list stream, commit → receipt p99",
        unit: "ms",
        better: "lower",
        role: "promptline",
        targets: [{ kind: "absolute", op: "<", value: 50 }],
      },
    ];
    const samples = await repeat(ctx, "watch-latency", async (scope) => {
      const env = await promptlineEnv(ctx, scope);
      const api = await env.start("api");
      await env.start("worker", { WORKER_CONCURRENCY: String(Math.min(1000, tasks)) });
      if (api.url === undefined) throw new Error("the api process has no URL");
      const client = connectClient(api.url);
      // Every stream on one HTTP/2 connection, as a service holding many watches would.
      const streams = createClient(
        TaskService,
        createConnectTransport({ baseUrl: api.url, httpVersion: "2" }),
      );
      const stop = new AbortController();
      scope.add(stop, async (c) => c.abort());
      calibrateClock();

      const list = watchList(streams, stop.signal);
      await list.ready;
      const ids = await createMany(client, {
        count: tasks,
        batchSize: ctx.settings.batchSize,
        concurrency: ctx.settings.createConcurrency,
        prompt: (i) => `[[sim ttft=${holdMs}]] watch ${i}`,
      });
      const allRunningAt = await untilAllRunning(env.database.pool, tasks, holdMs * 3);
      const watchers: Array<Promise<WatchResult>> = [];
      await forEachLimit(ids, OPEN_CONCURRENCY, async (id) => {
        const watcher = watchOne(streams, id, stop.signal);
        // Handled here so an early failure is not an unhandled rejection; Promise.all still sees it.
        watcher.done.catch(() => {});
        watchers.push(watcher.done);
        await watcher.ready;
      });
      const attachedAt = epochMs();
      const results = await Promise.all(watchers);
      const counts = await waitForCompleted(env.database.pool, tasks, { timeoutMs: 60_000 });
      checkAllCompleted("watch-latency", ids.length, counts.completed);
      await list.until(tasks);
      stop.abort();

      const watchLatencies = results.flatMap((r) => r.latenciesMs);
      const live = results.filter((r) => r.sawCompletionLive).length;
      if (live < tasks) {
        throw new Error(
          `${tasks - live} of ${tasks} tasks finished before their watcher attached; raise holdMs`,
        );
      }
      const watch = summarize(watchLatencies);
      const listSummary = summarize(list.latenciesMs);
      return {
        values: {
          watch_p50: watch.p50,
          watch_p99: watch.p99,
          list_p50: listSummary.p50,
          list_p99: listSummary.p99,
        },
        detail: {
          created: ids.length,
          completed: counts.completed,
          watch,
          list: listSummary,
          attachSeconds: (attachedAt - allRunningAt) / 1000,
        },
      };
    });
    return {
      method: [
        `${tasks.toLocaleString("en-US")} tasks that each hold the model for ${holdMs / 1000} s (\`[[sim ttft=${holdMs}]]\`); a worker process with WORKER_CONCURRENCY=${Math.min(1000, tasks)} runs them all at once and a separate api process serves the streams.`,
        "One WatchTasks stream (no filter) is open before the tasks are created; once every task is running, a WatchTask stream is opened on each (all on one HTTP/2 connection, Connect protocol). Every status change after a stream's first snapshot is a sample: receipt time − the message's published_at, which the server sets when it publishes the committed change.",
        "Each run checks that every task completed and that every watcher saw its task's completion live (not in its snapshot).",
      ],
      specs,
      samples,
    };
  },
};

type StreamClient = TaskClient;

interface WatchResult {
  latenciesMs: number[];
  sawCompletionLive: boolean;
}

/** One WatchTask stream: `ready` once its snapshot arrived, `done` when the task finished. */
function watchOne(
  client: StreamClient,
  id: string,
  signal: AbortSignal,
): { ready: Promise<void>; done: Promise<WatchResult> } {
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const done = (async () => {
    const latenciesMs: number[] = [];
    let first = true;
    let sawCompletionLive = false;
    try {
      for await (const message of client.watchTask({ id }, { signal })) {
        const receivedAt = epochMs();
        if (first) {
          first = false;
          markReady();
          continue;
        }
        if (message.event.case !== "task" || message.publishedAt === undefined) continue;
        latenciesMs.push(receivedAt - timestampMs(message.publishedAt));
        if (message.event.value.status === TaskStatus.COMPLETED) sawCompletionLive = true;
      }
    } finally {
      markReady();
    }
    return { latenciesMs, sawCompletionLive };
  })();
  return { ready, done };
}

/** The WatchTasks stream: latency of every change it carries, and a wait for `n` completions. */
function watchList(client: StreamClient, signal: AbortSignal) {
  const latenciesMs: number[] = [];
  let completed = 0;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const consumed = (async () => {
    try {
      for await (const message of client.watchTasks({}, { signal })) {
        const receivedAt = epochMs();
        markReady();
        if (message.change === WatchTasksResponse_Change.UNSPECIFIED) continue;
        if (message.publishedAt !== undefined) {
          latenciesMs.push(receivedAt - timestampMs(message.publishedAt));
        }
        if (message.task?.status === TaskStatus.COMPLETED) completed += 1;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      markReady();
    }
  })();
  // Handled here so an early failure is not an unhandled rejection; until() still sees it.
  consumed.catch(() => {});
  return {
    latenciesMs,
    ready,
    /** Resolves once the stream has carried `n` completions (or fails if the stream ended). */
    async until(n: number) {
      const deadline = Date.now() + 30_000;
      while (completed < n) {
        if (Date.now() > deadline)
          throw new Error(`WatchTasks carried ${completed} of ${n} completions`);
        const ended = await Promise.race([consumed.then(() => true), sleep(20).then(() => false)]);
        if (ended && completed < n) throw new Error("the WatchTasks stream ended early");
      }
    },
  };
}

/** Polls until `n` tasks are running; returns when that was seen. */
async function untilAllRunning(pool: pg.Pool, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ running: number; done: number }>(
      `select count(*) filter (where status = 'running')::int as running,
              count(*) filter (where status in ('completed', 'failed', 'cancelled'))::int as done
       from tasks`,
    );
    const row = rows[0];
    if (row !== undefined && row.done > 0) {
      throw new Error(`${row.done} tasks finished before all ${n} were running; raise holdMs`);
    }
    if (row !== undefined && row.running >= n) return epochMs();
    if (Date.now() > deadline) throw new Error(`only ${row?.running ?? 0} of ${n} tasks running`);
    await sleep(50);
  }
}
