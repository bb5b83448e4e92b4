import type { FigureSpec } from "../figures.js";
import { taskSpan, waitForCompleted } from "../observe.js";
import { connectClient, createMany, promptlineEnv } from "../promptline.js";
import { checkAllCompleted, repeat, type Scenario } from "./scenario.js";

/** Scenario 3: with a slow model, how close a worker gets to its concurrency ÷ latency. */
export const utilization: Scenario = {
  id: "utilization",
  title: "3. Utilization",
  async run(ctx) {
    const { tasks, concurrency, ttftMs, warmupTasks } = ctx.settings.utilization;
    const { batchSize, createConcurrency } = ctx.settings;
    const idealPerS = concurrency / (ttftMs / 1000);
    const specs: FigureSpec[] = [
      {
        id: "utilization",
        label: "achieved ÷ ideal throughput",
        unit: "",
        better: "higher",
        role: "promptline",
        targets: [{ kind: "absolute", op: ">=", value: 0.9 }],
      },
      {
        id: "achieved_per_s",
        label: `achieved tasks/s (ideal ${idealPerS})`,
        unit: "tasks/s",
        better: "higher",
        role: "promptline",
      },
    ];
    const prompt = (tag: string) => (i: number) => `[[sim ttft=${ttftMs}]] ${tag} ${i}`;
    const samples = await repeat(ctx, "utilization", async (scope) => {
      const env = await promptlineEnv(ctx, scope);
      const api = await env.start("api");
      await env.start("worker", { WORKER_CONCURRENCY: String(concurrency) });
      if (api.url === undefined) throw new Error("the api process has no URL");
      const client = connectClient(api.url);
      const pool = env.database.pool;
      const timeoutMs = 120_000 + (tasks / idealPerS) * 3_000;
      const create = (count: number, tag: string) =>
        createMany(client, {
          count,
          batchSize,
          concurrency: createConcurrency,
          prompt: prompt(tag),
        });

      await create(warmupTasks, "warm-up");
      await waitForCompleted(pool, warmupTasks, { timeoutMs });

      const ids = await create(tasks, "utilization");
      await waitForCompleted(pool, warmupTasks + tasks, { timeoutMs, intervalMs: 250 });
      const span = await taskSpan(pool, ids);
      checkAllCompleted("utilization", ids.length, span.completed);
      const makespanMs = span.lastCompletedAt - span.firstStartedAt;
      const achievedPerS = tasks / (makespanMs / 1000);
      return {
        values: { utilization: achievedPerS / idealPerS, achieved_per_s: achievedPerS },
        detail: {
          created: ids.length,
          completed: span.completed,
          makespanMs,
          idealMakespanMs: Math.ceil(tasks / concurrency) * ttftMs,
          idealPerS,
        },
      };
    });
    return {
      method: [
        `Every task asks the simulator for a ${ttftMs} ms answer (\`[[sim ttft=${ttftMs}]]\`); one worker process with WORKER_CONCURRENCY=${concurrency} and a separate api process. Ideal throughput = concurrency ÷ latency = ${idealPerS} tasks/s.`,
        `${warmupTasks} warm-up tasks run first; then ${tasks.toLocaleString("en-US")} tasks are created with BatchCreateTasks (faster than the worker drains them, so it is never starved). Achieved = tasks ÷ (last completed_at − first started_at), server timestamps.`,
      ],
      specs,
      samples,
    };
  },
};
