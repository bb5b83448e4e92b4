/**
 * `pnpm bench`: runs issue 8's scenarios and the baselines against real
 * PostgreSQL, Redis and the simulator, then writes the JSON results and the
 * Markdown report. See BENCHMARKS.md for what each figure means.
 *
 *   pnpm bench                          full run → bench/results/latest.json + BENCHMARKS.md
 *   pnpm bench -- --smoke               tiny counts, 1 repetition → bench/results/smoke.{json,md}
 *   pnpm bench -- --only=throughput,e2e-latency
 *                                       just those → bench/results/partial.{json,md}
 *                                       (so do --repetitions and --profile: only a plain
 *                                       full run replaces latest.json and BENCHMARKS.md)
 *   pnpm bench -- --profile             also writes V8 CPU profiles of Promptline's processes
 *                                       (bench/results/profiles/*.cpuprofile)
 *   pnpm bench -- --e2e-observer=db-poll
 *                                       scenario 8 sees completion by polling (db-poll, gettask-poll)
 *                                       instead of a WatchTask stream
 *   pnpm bench -- --repetitions=1       fewer runs per figure (a quick look, or a profile)
 *   pnpm bench -- --list                the scenario ids
 *   pnpm bench -- --report-only         BENCHMARKS.md again from latest.json (after editing bench/NOTES.md)
 *   pnpm bench -- --only=create-latency --merge
 *                                       re-measure some scenarios into latest.json and BENCHMARKS.md
 *   pnpm bench -- --json=PATH --markdown=PATH
 *
 * Environment: BENCH_DATABASE_URL (a PostgreSQL server's maintenance
 * database; default postgres://postgres@127.0.0.1:5432/postgres) and
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { BenchContext } from "./context.js";
import { REPO_ROOT } from "./env/paths.js";
import { startSimulatorProcess } from "./env/processes.js";
import { figuresFrom, type ScenarioResult } from "./figures.js";
import { gitInfo, loadAverage, machineInfo } from "./machine.js";
import { type BenchReport, toMarkdown } from "./report.js";
import { SCENARIOS } from "./scenarios/index.js";
import type { Scenario } from "./scenarios/scenario.js";
import { Scope } from "./scope.js";
import { FULL, SMOKE } from "./settings.js";

const { values: args } = parseArgs({
  // `pnpm bench -- --smoke` passes the `--` through; it separates nothing here.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    smoke: { type: "boolean", default: false },
    only: { type: "string" },
    json: { type: "string" },
    markdown: { type: "string" },
    profile: { type: "boolean", default: false },
    "e2e-observer": { type: "string" },
    repetitions: { type: "string" },
    list: { type: "boolean", default: false },
    "report-only": { type: "boolean", default: false },
    merge: { type: "boolean", default: false },
  },
  strict: true,
});

if (args.list) {
  for (const s of SCENARIOS) console.log(`${s.id.padEnd(18)} ${s.title}`);
  process.exit(0);
}

const notesPath = path.join(REPO_ROOT, "bench/NOTES.md");
const readNotes = () => readFile(notesPath, "utf8").catch(() => undefined);

if (args["report-only"]) {
  // Re-renders the Markdown from results already measured, e.g. after editing bench/NOTES.md.
  const from = path.resolve(args.json ?? path.join(REPO_ROOT, "bench/results/latest.json"));
  const to = path.resolve(args.markdown ?? path.join(REPO_ROOT, "BENCHMARKS.md"));
  await writeFile(to, toMarkdown(await readReport(from), await readNotes()));
  console.log(
    `wrote ${path.relative(process.cwd(), to)} from ${path.relative(process.cwd(), from)}`,
  );
  process.exit(0);
}

const observer = args["e2e-observer"];
if (
  observer !== undefined &&
  observer !== "watch" &&
  observer !== "db-poll" &&
  observer !== "gettask-poll"
) {
  console.error("--e2e-observer must be watch, db-poll or gettask-poll");
  process.exit(2);
}
const base = args.smoke ? SMOKE : FULL;
const repetitions = args.repetitions === undefined ? base.repetitions : Number(args.repetitions);
if (!Number.isInteger(repetitions) || repetitions < 1) {
  console.error("--repetitions must be a whole number above 0");
  process.exit(2);
}
const settings = {
  ...base,
  repetitions,
  e2eLatency: { ...base.e2eLatency, observer: observer ?? base.e2eLatency.observer },
};
const only = args.only
  ?.split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "");
const unknown = only?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
if (unknown.length > 0) {
  console.error(
    `unknown scenario ${unknown.join(", ")}; one of ${SCENARIOS.map((s) => s.id).join(", ")}`,
  );
  process.exit(2);
}
const selected = SCENARIOS.filter((s) => only === undefined || only.includes(s.id));

const outputs = defaultOutputs();
const jsonPath = path.resolve(args.json ?? outputs.json);
const markdownPath = path.resolve(args.markdown ?? outputs.markdown);

const adminDatabaseUrl =
  process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

const began = Date.now();
const log = (message: string) => {
  const s = ((Date.now() - began) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
};

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    Scope.closeAll().then(
      () => process.exit(130),
      (error: unknown) => {
        log(`cleanup failed: ${String(error)}`);
        process.exit(130);
      },
    );
  });
}

const profileDir = path.join(REPO_ROOT, "bench/results/profiles");
if (args.profile) await mkdir(profileDir, { recursive: true });

const results = await Scope.with(async (scope) => {
  log(`${settings.mode} run: ${selected.map((s) => s.id).join(", ")}`);
  const simulator = scope.add(await startSimulatorProcess(), (p) => p.stop());
  const ctx: BenchContext = {
    settings,
    adminDatabaseUrl,
    redisUrl,
    simulatorUrl: simulator.url,
    promptlineNodeArgs: args.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
    log,
  };
  const done: ScenarioResult[] = [];
  for (const scenario of selected) done.push(await runScenario(ctx, scenario));
  return done;
});

const measured: BenchReport = {
  schema: 1,
  mode: settings.mode,
  startedAt: new Date(began).toISOString(),
  finishedAt: new Date().toISOString(),
  durationS: (Date.now() - began) / 1000,
  only,
  machine: await machineInfo(adminDatabaseUrl, redisUrl),
  git: await gitInfo(),
  settings,
  scenarios: results,
};
const report = args.merge ? await mergeInto(jsonPath, measured) : measured;
const notes = await readNotes();
await mkdir(path.dirname(jsonPath), { recursive: true });
await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
await mkdir(path.dirname(markdownPath), { recursive: true });
await writeFile(markdownPath, toMarkdown(report, notes));
log(
  `wrote ${path.relative(process.cwd(), jsonPath)} and ${path.relative(process.cwd(), markdownPath)}`,
);
const failed = results.filter((r) => r.status === "failed");
for (const f of failed) log(`FAILED ${f.id}: ${f.reason ?? ""}`);
process.exit(failed.length > 0 ? 1 : 0);

async function runScenario(ctx: BenchContext, scenario: Scenario): Promise<ScenarioResult> {
  const base = { id: scenario.id, title: scenario.title };
  if ("notMeasurable" in scenario) {
    return {
      ...base,
      status: "not-measurable",
      reason: scenario.notMeasurable,
      method: [],
      figures: [],
      runs: [],
      loadAverage: { before: loadAverage(), after: loadAverage() },
      durationS: 0,
      measuredAt: new Date().toISOString(),
    };
  }
  const before = loadAverage();
  const started = Date.now();
  log(`${scenario.id}: start`);
  try {
    const outcome = await scenario.run(ctx);
    const result: ScenarioResult = {
      ...base,
      status: "measured",
      method: outcome.method,
      figures: figuresFrom(outcome.specs, outcome.samples),
      runs: outcome.samples.map((s) => ({ values: s.values, ...s.detail })),
      loadAverage: { before, after: loadAverage() },
      durationS: (Date.now() - started) / 1000,
      measuredAt: new Date().toISOString(),
    };
    log(`${scenario.id}: done in ${result.durationS.toFixed(0)} s`);
    return result;
  } catch (error) {
    const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`${scenario.id}: FAILED\n${reason}`);
    return {
      ...base,
      status: "failed",
      reason: error instanceof Error ? error.message : String(error),
      method: [],
      figures: [],
      runs: [],
      loadAverage: { before, after: loadAverage() },
      durationS: (Date.now() - started) / 1000,
      measuredAt: new Date().toISOString(),
    };
  }
}

/** A results file as written by this bench; files from before `measuredAt` existed get the run's end. */
async function readReport(file: string): Promise<BenchReport> {
  const report = JSON.parse(await readFile(file, "utf8")) as BenchReport;
  const measuredAt = (s: ScenarioResult): string | undefined => s.measuredAt;
  return {
    ...report,
    scenarios: report.scenarios.map((s) => ({
      ...s,
      measuredAt: measuredAt(s) ?? report.finishedAt,
    })),
  };
}

/**
 * `--merge`: the scenarios just measured replace theirs in an earlier full
 * run's results (a scenario re-measured after a fix, or after it failed),
 * and the report says which were merged, when and on which commit.
 */
async function mergeInto(file: string, fresh: BenchReport): Promise<BenchReport> {
  const earlier = await readReport(file);
  const byId = new Map(earlier.scenarios.map((s) => [s.id, s]));
  for (const s of fresh.scenarios) byId.set(s.id, s);
  return {
    ...earlier,
    scenarios: SCENARIOS.flatMap((s) => byId.get(s.id) ?? []),
    merged: [
      ...(earlier.merged ?? []),
      { ids: fresh.scenarios.map((s) => s.id), at: fresh.finishedAt, git: fresh.git },
    ],
  };
}

function defaultOutputs(): { json: string; markdown: string } {
  const results = path.join(REPO_ROOT, "bench/results");
  if (args.merge) {
    if (only === undefined || args.smoke || args.repetitions !== undefined || args.profile) {
      console.error(
        "--merge needs --only, and a full run (no --smoke, --repetitions or --profile)",
      );
      process.exit(2);
    }
    return {
      json: path.join(results, "latest.json"),
      markdown: path.join(REPO_ROOT, "BENCHMARKS.md"),
    };
  }
  if (args.smoke) {
    return { json: path.join(results, "smoke.json"), markdown: path.join(results, "smoke.md") };
  }
  if (only !== undefined || args.repetitions !== undefined || args.profile) {
    return { json: path.join(results, "partial.json"), markdown: path.join(results, "partial.md") };
  }
  return {
    json: path.join(results, "latest.json"),
    markdown: path.join(REPO_ROOT, "BENCHMARKS.md"),
  };
}
