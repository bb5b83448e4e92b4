import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService } from "@promptline/proto";
import type pg from "pg";
import { calibrateClock, epochMs } from "../context.js";
import type { FigureSpec } from "../figures.js";
import { waitForCompleted } from "../observe.js";
import { connectClient, forEachLimit, promptlineEnv, type TaskClient } from "../promptline.js";
import { summarize } from "../stats.js";
import { checkAllCompleted, repeat, type Scenario } from "./scenario.js";

/**
 * How long a worker holds output before publishing it: RedisTaskNotifier's
 * default batching interval (server/src/events/publisher.ts). A token waits
 * at most this long before its delta's published_at, so adding it to the
 * measured publish → receipt time bounds the token → receipt time.
 */
const OUTPUT_BATCH_MS = 50;
const MODEL = "simulator/lorem";

/** Scenario 7: output deltas of many concurrently streaming tasks, publish → receipt. */
export const streaming: Scenario = {
  id: "streaming",
  title: "7. Streaming",
  async run(ctx) {
    const { tasks, tokensPerS, tokens, ttftMs } = ctx.settings.streaming;
    const specs: FigureSpec[] = [
      {
        id: "delta_p50",
        label: "output delta, publish → receipt p50",
        unit: "ms",
        better: "lower",
        role: "promptline",
      },
      {
        id: "delta_p99",
        label: "output delta, publish → receipt p99",
        unit: "ms",
        better: "lower",
        role: "promptline",
      },
      {
        id: "token_bound_p99",
        label: `token → receipt p99, upper bound (publish → receipt + ${OUTPUT_BATCH_MS} ms batching)`,
        unit: "ms",
        better: "lower",
        role: "promptline",
        targets: [{ kind: "absolute", op: "<", value: 100 }],
      },
    ];
    const samples = await repeat(ctx, "streaming", async (scope) => {
      const env = await promptlineEnv(ctx, scope);
      const api = await env.start("api");
      await env.start("worker", {
        WORKER_CONCURRENCY: String(Math.max(tasks, ctx.settings.workerConcurrency)),
      });
      if (api.url === undefined) throw new Error("the api process has no URL");
      const client = connectClient(api.url);
      const streams = createClient(
        TaskService,
        createConnectTransport({ baseUrl: api.url, httpVersion: "2" }),
      );
      calibrateClock();
      const { tasks: created } = await client.batchCreateTasks({
        tasks: Array.from({ length: tasks }, (_, i) => ({
          prompt: `[[sim ttft=${ttftMs} tps=${tokensPerS} tokens=${tokens}]] stream ${i}`,
          model: MODEL,
        })),
      });
      const ids = created.map((t) => t.id);
      const watchers: Array<Promise<StreamResult>> = [];
      await forEachLimit(ids, 20, async (id) => {
        const watcher = watchOutput(streams, id);
        watcher.done.catch(() => {});
        watchers.push(watcher.done);
        await watcher.ready;
      });
      const attachedAt = epochMs();
      const results = await Promise.all(watchers);
      const counts = await waitForCompleted(env.database.pool, tasks, { timeoutMs: 60_000 });
      checkAllCompleted("streaming", ids.length, counts.completed);
      const early = await tokensBefore(env.database.pool, attachedAt);
      if (early > 0)
        throw new Error(
          `${early} tasks started streaming before every watcher attached; raise ttftMs`,
        );
      const words = results.map((r) => r.text.trim().split(/\s+/).length);
      if (words.some((n) => n !== tokens)) {
        throw new Error(
          `a watcher pieced together ${Math.min(...words)}–${Math.max(...words)} words, not ${tokens}`,
        );
      }
      const latencies = results.flatMap((r) => r.latenciesMs);
      const summary = summarize(latencies);
      return {
        values: {
          delta_p50: summary.p50,
          delta_p99: summary.p99,
          token_bound_p99: summary.p99 + OUTPUT_BATCH_MS,
        },
        detail: { created: ids.length, completed: counts.completed, deltas: summary },
      };
    });
    return {
      method: [
        `${tasks} tasks at once on \`${MODEL}\`, each streaming ${tokens} tokens at ${tokensPerS} tokens/s after a ${ttftMs / 1000} s wait (\`[[sim ttft=${ttftMs} tps=${tokensPerS} tokens=${tokens}]]\`), so every WatchTask stream is attached before the first token; api and worker in separate processes, streams on one HTTP/2 connection (Connect).`,
        `Every output delta after a stream's snapshot is a sample: receipt − published_at, the time the worker published the delta. The worker batches output for up to ${OUTPUT_BATCH_MS} ms before publishing, which published_at does not show, so the target is judged on the upper bound p99 + ${OUTPUT_BATCH_MS} ms.`,
        "Each run checks that every task completed and that each watcher pieced together the whole answer from its deltas.",
      ],
      specs,
      samples,
    };
  },
};

interface StreamResult {
  latenciesMs: number[];
  text: string;
}

function watchOutput(
  client: TaskClient,
  id: string,
): { ready: Promise<void>; done: Promise<StreamResult> } {
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const done = (async () => {
    const latenciesMs: number[] = [];
    let text = "";
    let first = true;
    try {
      for await (const message of client.watchTask({ id })) {
        const receivedAt = epochMs();
        if (first) {
          first = false;
          markReady();
          if (message.event.case === "task") text = message.event.value.output;
          continue;
        }
        if (message.event.case !== "output") continue;
        text += message.event.value.text;
        if (message.publishedAt !== undefined)
          latenciesMs.push(receivedAt - timestampMs(message.publishedAt));
      }
    } finally {
      markReady();
    }
    return { latenciesMs, text };
  })();
  return { ready, done };
}

/** Tasks whose first token came before `at` (their attempt's start + time to first token). */
async function tokensBefore(pool: pg.Pool, at: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `select count(*)::int as n from tasks
     where extract(epoch from started_at) * 1000 + coalesce(ttft_ms, 0) < $1`,
    [at],
  );
  return rows[0]?.n ?? 0;
}
