import { startBullmqBaseline } from "../baselines/bullmq.js";
import { startBullmqPgBaseline } from "../baselines/bullmq-pg.js";
import { startGraphileBaseline } from "../baselines/graphile.js";
import type { BaselineSystem } from "../baselines/system.js";
import { type BenchContext, calibrateClock, epochMs } from "../context.js";
import { redisCommandCalls } from "../env/redis.js";
import type { FigureSpec } from "../figures.js";
import { taskSpan, waitForCompleted } from "../observe.js";
import { connectClient, createMany, promptlineEnv } from "../promptline.js";
import { markRoundTrips, redisCallsPer, roundTripsPer } from "../round-trips.js";
import { Scope } from "../scope.js";
import { checkAllCompleted, repeat, type Scenario } from "./scenario.js";

type Contender = "promptline" | "bullmq" | "bullmq_pg" | "graphile";
const CONTENDERS: readonly Contender[] = ["promptline", "bullmq", "bullmq_pg", "graphile"];

const BASELINES: Record<
  Exclude<Contender, "promptline">,
  (ctx: BenchContext, scope: Scope) => Promise<BaselineSystem>
> = {
  bullmq: startBullmqBaseline,
  bullmq_pg: startBullmqPgBaseline,
  graphile: startGraphileBaseline,
};

/** Scenario 1: tasks/s end to end through the API, beside the three baselines, in one run. */
export const throughput: Scenario = {
  id: "throughput",
  title: "1. Throughput",
  async run(ctx) {
    const { tasks, warmupTasks } = ctx.settings.throughput;
    const { batchSize, createConcurrency, workerConcurrency } = ctx.settings;
    const specs: FigureSpec[] = [
      {
        id: "tasks_per_s",
        label: "Promptline tasks/s, end to end",
        unit: "tasks/s",
        better: "higher",
        role: "promptline",
        compareTo: ["bullmq_per_s", "bullmq_pg_per_s", "graphile_per_s"],
        targets: [
          { kind: "absolute", op: ">=", value: 1000 },
          { kind: "ratio", baseline: "bullmq_pg_per_s", op: ">=", value: 1.0 },
          { kind: "ratio", baseline: "graphile_per_s", op: ">=", value: 1.5 },
        ],
      },
      {
        id: "cpu_ms_per_task",
        label: "Promptline process CPU per task",
        unit: "ms",
        better: "lower",
        role: "promptline",
        compareTo: ["bullmq_pg_cpu_ms_per_job"],
      },
      {
        id: "pg_commits_per_task",
        label: "Promptline PostgreSQL commits per task",
        unit: "commits",
        better: "lower",
        role: "promptline",
      },
      {
        id: "redis_calls_per_task",
        label: "Promptline Redis calls per task",
        unit: "calls",
        better: "lower",
        role: "promptline",
        compareTo: ["bullmq_pg_redis_calls_per_job"],
      },
      baselineRate("bullmq_per_s", "(a) BullMQ, no-op"),
      baselineRate("bullmq_pg_per_s", "(b) BullMQ + pg writes"),
      baselineRate("graphile_per_s", "(c) graphile-worker, no-op"),
      {
        id: "bullmq_pg_cpu_ms_per_job",
        label: "(b) BullMQ + pg writes: process CPU per job",
        unit: "ms",
        better: "lower",
        role: "baseline",
      },
      {
        id: "bullmq_pg_redis_calls_per_job",
        label: "(b) BullMQ + pg writes: Redis calls per job",
        unit: "calls",
        better: "lower",
        role: "baseline",
      },
    ];
    const samples = await repeat(ctx, "throughput", async (_scope, repetition) => {
      const values: Record<string, number> = {};
      const detail: Record<string, unknown> = {};
      // Rotating the order spreads any drift in the machine's load over every contender.
      for (let k = 0; k < CONTENDERS.length; k++) {
        const who = CONTENDERS[(k + repetition) % CONTENDERS.length];
        if (who === undefined) continue;
        ctx.log(`  ${who}`);
        // A scope per contender: its processes are gone before the next one starts.
        const measured = await Scope.with((inner) =>
          who === "promptline"
            ? runPromptline(ctx, inner)
            : runBaseline(BASELINES[who], ctx, inner),
        );
        if (who === "promptline") {
          values.tasks_per_s = measured.perS;
          values.cpu_ms_per_task = measured.cpuMsPerItem;
          values.pg_commits_per_task = Number(measured.commitsPerItem);
          values.redis_calls_per_task = measured.redisCallsPerItem;
        } else {
          values[`${who}_per_s`] = measured.perS;
          if (who === "bullmq_pg") {
            values.bullmq_pg_cpu_ms_per_job = measured.cpuMsPerItem;
            values.bullmq_pg_redis_calls_per_job = measured.redisCallsPerItem;
          }
        }
        detail[who] = measured;
      }
      return { values, detail };
    });
    return {
      method: [
        `${tasks.toLocaleString("en-US")} tasks per run${ctx.settings.mode === "full" ? " (issue 8 says 20,000: halved so the whole bench fits in about 15 minutes on this machine)" : ""}, after ${warmupTasks.toLocaleString("en-US")} warm-up tasks that are not counted; each contender gets a fresh database and queue prefix per run, and the order of contenders rotates between runs.`,
        `Promptline: one \`all\` process (API + worker, WORKER_CONCURRENCY=${workerConcurrency}) against a zero-latency simulator in its own process; tasks are created with BatchCreateTasks over Connect (HTTP/1.1), ${batchSize} per call, ${createConcurrency} calls in flight. Rate = tasks ÷ (last completed_at − first create call), completed_at being the server's timestamp.`,
        `Baselines run in the bench process with the same batch size, calls in flight and worker concurrency; rate = jobs ÷ (last completion − first add). (a) and (b) use BullMQ like Promptline does (removeOnComplete), (b) with one multi-row INSERT per batch and a claim and a complete UPDATE per job, (c) graphile-worker with default settings.`,
        "CPU per task: user + system time of the Promptline process (from /proc) over the timed part, ÷ tasks; for (b), the bench process's own CPU. PostgreSQL's and Redis's CPU is in neither.",
        "Round trips per task, the figures a busy machine does not move: PostgreSQL commits of the run's database (pg_stat_database, read 11 s after the work so every backend has reported; the bench's own polling adds a few hundred) and Redis calls (INFO commandstats, by command in each run's detail) over the timed part, ÷ tasks. Redis counts the whole server, so they are exact only with a Redis the bench has to itself (BENCH_REDIS_URL).",
      ],
      specs,
      samples,
    };
  },
};

function baselineRate(id: string, label: string): FigureSpec {
  return { id, label, unit: "jobs/s", better: "higher", role: "baseline" };
}

interface Measured extends Record<string, unknown> {
  perS: number;
  cpuMsPerItem: number;
  redisCallsPerItem: number;
  created: number;
  completed: number;
  elapsedMs: number;
}

async function runPromptline(ctx: BenchContext, scope: Scope): Promise<Measured> {
  const { tasks, warmupTasks } = ctx.settings.throughput;
  const { batchSize, createConcurrency } = ctx.settings;
  const env = await promptlineEnv(ctx, scope);
  const app = await env.start("all");
  if (app.url === undefined) throw new Error("the all process has no URL");
  const client = connectClient(app.url);
  const pool = env.database.pool;
  const create = (count: number, tag: string) =>
    createMany(client, {
      count,
      batchSize,
      concurrency: createConcurrency,
      prompt: (i) => `${tag} ${i}`,
    });
  const timeoutMs = 120_000 + tasks * 10;

  await create(warmupTasks, "warm-up");
  await waitForCompleted(pool, warmupTasks, { timeoutMs });

  const marked = await markRoundTrips(pool, ctx.redisUrl);
  calibrateClock();
  const cpuBefore = await app.cpuMs();
  const startedAt = epochMs();
  const ids = await create(tasks, "throughput");
  const createdAt = epochMs();
  await waitForCompleted(pool, warmupTasks + tasks, { timeoutMs, intervalMs: 100 });
  const cpuAfter = await app.cpuMs();
  const roundTrips = roundTripsPer(marked, await markRoundTrips(pool, ctx.redisUrl), tasks);
  const span = await taskSpan(pool, ids);
  checkAllCompleted("promptline", ids.length, span.completed);
  const elapsedMs = span.lastCompletedAt - startedAt;
  return {
    perS: tasks / (elapsedMs / 1000),
    cpuMsPerItem: (cpuAfter - cpuBefore) / tasks,
    created: ids.length,
    completed: span.completed,
    elapsedMs,
    createPhaseMs: createdAt - startedAt,
    createdPerS: tasks / ((createdAt - startedAt) / 1000),
    ...roundTrips,
  };
}

async function runBaseline(
  start: (ctx: BenchContext, scope: Scope) => Promise<BaselineSystem>,
  ctx: BenchContext,
  scope: Scope,
): Promise<Measured> {
  const { tasks, warmupTasks } = ctx.settings.throughput;
  const system = await start(ctx, scope);
  const warm = await system.runMany(warmupTasks);
  checkAllCompleted(`${system.id} warm-up`, warm.created, warm.completed);
  const callsBefore = await redisCommandCalls(ctx.redisUrl);
  const cpuBefore = process.cpuUsage();
  const timing = await system.runMany(tasks);
  const cpu = process.cpuUsage(cpuBefore);
  const redisCalls = await redisCallsPer(ctx.redisUrl, callsBefore, tasks);
  checkAllCompleted(system.id, timing.created, timing.completed);
  const elapsedMs = timing.finishedAt - timing.startedAt;
  return {
    perS: tasks / (elapsedMs / 1000),
    cpuMsPerItem: (cpu.user + cpu.system) / 1000 / tasks,
    created: timing.created,
    completed: timing.completed,
    elapsedMs,
    ...redisCalls,
  };
}
