import { startBullmqBaseline } from "../baselines/bullmq.js";
import { startBullmqPgBaseline } from "../baselines/bullmq-pg.js";
import { startGraphileBaseline } from "../baselines/graphile.js";
import type { BaselineSystem } from "../baselines/system.js";
import { type BenchContext, calibrateClock, epochMs } from "../context.js";
import type { FigureSpec } from "../figures.js";
import {
  type CompletionObserver,
  dbPollObserver,
  getTaskPollObserver,
  type Observation,
  watchObserver,
} from "../observe.js";
import { BENCH_MODEL, connectClient, promptlineEnv } from "../promptline.js";
import { Scope } from "../scope.js";
import { percentile, summarize } from "../stats.js";
import { checkAllCompleted, repeat, type Scenario } from "./scenario.js";

const BASELINES: ReadonlyArray<{
  id: string;
  start: (ctx: BenchContext, scope: Scope) => Promise<BaselineSystem>;
}> = [
  { id: "bullmq", start: startBullmqBaseline },
  { id: "bullmq_pg", start: startBullmqPgBaseline },
  { id: "graphile", start: startGraphileBaseline },
];

/** A task's life in phases, by server timestamps except where the bench's clock is the only one. */
const PHASES = [
  { id: "create", label: "create: send → created_at (RPC, validation)" },
  { id: "queued", label: "queued: created_at → started_at (insert, enqueue, delivery, claim)" },
  { id: "running", label: "running: started_at → completed_at (model call, result write)" },
  { id: "reporting", label: "reporting: completed_at → seen by the client" },
] as const;
type Phase = (typeof PHASES)[number]["id"];

/** Scenario 8: one task at a time, CreateTask → completed seen by the client. */
export const e2eLatency: Scenario = {
  id: "e2e-latency",
  title: "8. End-to-end latency",
  async run(ctx) {
    const { tasks, warmupTasks, observer: observerKind, pollIntervalMs } = ctx.settings.e2eLatency;
    const baselineLabels: Record<string, string> = {
      bullmq: "(a) BullMQ add → done",
      bullmq_pg: "(b) INSERT + add → claim + complete",
      graphile: "(c) graphile-worker add → done",
    };
    const specs: FigureSpec[] = [
      {
        id: "e2e_p50",
        label: "CreateTask → completed seen, p50",
        unit: "ms",
        better: "lower",
        role: "promptline",
        compareTo: BASELINES.map((b) => `${b.id}_p50`),
        targets: [{ kind: "absolute", op: "<=", value: 6 }],
      },
      {
        id: "e2e_p99",
        label: "CreateTask → completed seen, p99",
        unit: "ms",
        better: "lower",
        role: "promptline",
        compareTo: BASELINES.map((b) => `${b.id}_p99`),
        targets: [{ kind: "absolute", op: "<=", value: 30 }],
      },
      ...PHASES.flatMap((phase) =>
        (["p50", "p99"] as const).map(
          (p): FigureSpec => ({
            id: `${phase.id}_${p}`,
            label: `${phase.label}, ${p}`,
            unit: "ms",
            better: "lower",
            role: "promptline",
          }),
        ),
      ),
      ...BASELINES.flatMap((b) =>
        (["p50", "p99"] as const).map(
          (p): FigureSpec => ({
            id: `${b.id}_${p}`,
            label: `${baselineLabels[b.id] ?? b.id}, ${p}`,
            unit: "ms",
            better: "lower",
            role: "baseline",
          }),
        ),
      ),
    ];
    let observerDescription = "";
    const samples = await repeat(ctx, "e2e-latency", async (_scope, repetition) => {
      const values: Record<string, number> = {};
      const detail: Record<string, unknown> = {};
      const contenders = ["promptline", ...BASELINES.map((b) => b.id)];
      for (let k = 0; k < contenders.length; k++) {
        const who = contenders[(k + repetition) % contenders.length];
        const baseline = BASELINES.find((b) => b.id === who);
        ctx.log(`  ${who}`);
        if (who === "promptline") {
          const measured = await Scope.with((scope) =>
            runPromptline(ctx, scope, observerKind, pollIntervalMs),
          );
          observerDescription = measured.observer;
          Object.assign(values, measured.values);
          detail.promptline = measured.detail;
        } else if (baseline !== undefined) {
          const latencies = await Scope.with(async (scope) => {
            const system = await baseline.start(ctx, scope);
            for (let i = 0; i < warmupTasks; i++) await system.runOne();
            const measured: number[] = [];
            for (let i = 0; i < tasks; i++) measured.push(await system.runOne());
            return measured;
          });
          const summary = summarize(latencies);
          values[`${baseline.id}_p50`] = summary.p50;
          values[`${baseline.id}_p99`] = summary.p99;
          detail[baseline.id] = summary;
        }
      }
      return { values, detail };
    });
    return {
      method: [
        `${tasks} tasks one after another (the next is created once the previous is seen completed), after ${warmupTasks} warm-up tasks; one \`all\` process, zero-latency simulator; CreateTask over Connect (HTTP/1.1).`,
        `Completion is observed by ${observerDescription}; the observer is one swappable function (observe.ts; \`--e2e-observer=db-poll\` polls PostgreSQL every ${pollIntervalMs} ms instead, to separate the fan-out from the rest).`,
        "Phases come from the task's server timestamps (created_at, started_at, completed_at; PostgreSQL's clock) and the bench's send and receipt times (same machine, same system clock, re-anchored before each run).",
        "Baselines, one job at a time in the bench process, from the add call until the worker reports the job done by an in-process event (no polling, no RPC): a floor for what a queue adds, not a like-for-like client view.",
      ],
      specs,
      samples,
    };
  },
};

async function runPromptline(
  ctx: BenchContext,
  scope: Scope,
  observerKind: "watch" | "db-poll" | "gettask-poll",
  pollIntervalMs: number,
): Promise<{ values: Record<string, number>; detail: Record<string, unknown>; observer: string }> {
  const { tasks, warmupTasks } = ctx.settings.e2eLatency;
  const env = await promptlineEnv(ctx, scope);
  const app = await env.start("all");
  if (app.url === undefined) throw new Error("the all process has no URL");
  const client = connectClient(app.url);
  const observers: Record<typeof observerKind, () => CompletionObserver> = {
    watch: () => watchObserver(client),
    "db-poll": () => dbPollObserver(env.database.pool, pollIntervalMs),
    "gettask-poll": () => getTaskPollObserver(client, pollIntervalMs),
  };
  const observer = observers[observerKind]();

  const one = async (i: number) => {
    const sentAt = epochMs();
    const { task } = await client.createTask({ prompt: `e2e ${i}`, model: BENCH_MODEL });
    if (task === undefined) throw new Error("CreateTask returned no task");
    return { sentAt, observation: await observer.waitForFinish(task.id, 30_000) };
  };
  for (let i = 0; i < warmupTasks; i++) await one(i);
  calibrateClock();
  const totals: number[] = [];
  const phases: Record<Phase, number[]> = { create: [], queued: [], running: [], reporting: [] };
  let completed = 0;
  for (let i = 0; i < tasks; i++) {
    const { sentAt, observation } = await one(i);
    const split = phasesOf(sentAt, observation);
    if (split === undefined) continue;
    completed += 1;
    totals.push(observation.observedAt - sentAt);
    for (const phase of PHASES) phases[phase.id].push(split[phase.id]);
  }
  checkAllCompleted("promptline", tasks, completed);
  const values: Record<string, number> = {
    e2e_p50: percentile(totals, 50),
    e2e_p99: percentile(totals, 99),
  };
  for (const phase of PHASES) {
    values[`${phase.id}_p50`] = percentile(phases[phase.id], 50);
    values[`${phase.id}_p99`] = percentile(phases[phase.id], 99);
  }
  return {
    values,
    detail: {
      created: tasks,
      completed,
      total: summarize(totals),
      phases: Object.fromEntries(PHASES.map((p) => [p.id, summarize(phases[p.id])])),
    },
    observer: observer.description,
  };
}

function phasesOf(
  sentAt: number,
  { observedAt, times }: Observation,
): Record<Phase, number> | undefined {
  if (times.status !== "completed") return undefined;
  const { createdAt, startedAt, completedAt } = times;
  if (startedAt === undefined || completedAt === undefined) return undefined;
  return {
    create: createdAt - sentAt,
    queued: startedAt - createdAt,
    running: completedAt - startedAt,
    reporting: observedAt - completedAt,
  };
}
