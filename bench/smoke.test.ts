import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BenchReport } from "./src/report.js";
import { SCENARIOS } from "./src/scenarios/index.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

let dir: string;
let report: BenchReport;
let markdown: string;

// `pnpm bench --smoke`, end to end, so the harness cannot rot between full runs.
// It writes to a temporary directory: the committed results stay untouched.
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "promptline-bench-"));
  const json = path.join(dir, "smoke.json");
  const md = path.join(dir, "smoke.md");
  await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "--smoke", `--json=${json}`, `--markdown=${md}`],
    { cwd: BENCH_DIR, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 },
  );
  report = JSON.parse(await readFile(json, "utf8")) as BenchReport;
  markdown = await readFile(md, "utf8");
}, 180_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("pnpm bench --smoke", () => {
  it("records the machine, the commit and the settings", () => {
    expect(report.schema).toBe(1);
    expect(report.mode).toBe("smoke");
    expect(report.settings.repetitions).toBe(1);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.memoryBytes).toBeGreaterThan(0);
    expect(report.machine.node).toMatch(/^v\d+/);
    expect(report.machine.postgres).toMatch(/^\d+/);
    expect(report.machine.redis).toMatch(/^\d+/);
    expect(report.git.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);
  });

  it("measures every scenario", () => {
    expect(report.scenarios.map((s) => s.id)).toEqual(SCENARIOS.map((s) => s.id));
    for (const s of report.scenarios) {
      // The reason is in the comparison, so a failure says what went wrong.
      expect({ id: s.id, status: s.status, reason: s.reason }).toEqual({
        id: s.id,
        status: "measured",
        reason: undefined,
      });
      expect(s.figures.length).toBeGreaterThan(0);
      expect(s.method.length).toBeGreaterThan(0);
    }
  });

  it("gives every figure its runs, a median, and its targets judged", () => {
    for (const figure of report.scenarios.flatMap((s) => s.figures)) {
      expect(figure.runs).toHaveLength(1);
      expect(Number.isFinite(figure.value)).toBe(true);
      expect(figure.value).toBe(figure.runs[0]);
      for (const c of figure.comparisons) expect(Number.isFinite(c.ratio)).toBe(true);
      for (const t of figure.targets) expect(typeof t.met).toBe("boolean");
    }
    const throughput = report.scenarios.find((s) => s.id === "throughput");
    const tasksPerS = throughput?.figures.find((f) => f.id === "tasks_per_s");
    expect(tasksPerS?.comparisons.map((c) => c.baseline)).toEqual([
      "bullmq_per_s",
      "bullmq_pg_per_s",
      "graphile_per_s",
    ]);
  });

  it("checks created == completed in every run", () => {
    const throughput = report.scenarios.find((s) => s.id === "throughput");
    for (const run of throughput?.runs ?? []) {
      for (const who of ["promptline", "bullmq", "bullmq_pg", "graphile"]) {
        expect(run[who]).toMatchObject({
          created: report.settings.throughput.tasks,
          completed: report.settings.throughput.tasks,
        });
      }
    }
  });

  it("writes the Markdown table", () => {
    expect(markdown).toMatch(
      /^\| Scenario +\| Figure +\| +Promptline \| Target +\| Baseline +\| +Ratio \| Met\? +\|$/m,
    );
    for (const s of SCENARIOS) expect(markdown).toContain(s.title);
  });
});
