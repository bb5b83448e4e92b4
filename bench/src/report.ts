import { type FigureResult, formatNumber, type ScenarioResult } from "./figures.js";
import type { GitInfo, MachineInfo } from "./machine.js";
import type { BenchSettings } from "./settings.js";

/** Everything one `pnpm bench` run measured: bench/results/latest.json. */
export interface BenchReport {
  /** Bumped when the shape changes, so tools reading old files can tell. */
  schema: 1;
  mode: BenchSettings["mode"];
  startedAt: string;
  finishedAt: string;
  durationS: number;
  /** `--only` filter in effect, if any. */
  only: string[] | undefined;
  /** Scenarios re-measured later with `--merge` and put in place of this run's. */
  merged?: Array<{ ids: string[]; at: string; git: GitInfo }>;
  machine: MachineInfo;
  git: GitInfo;
  settings: BenchSettings;
  scenarios: ScenarioResult[];
}

/**
 * BENCHMARKS.md: the summary table (scenario, figure, target, baseline,
 * ratio, met?), the baselines, what is not measurable yet, how each
 * scenario was measured with every run's figures, then the hand-written
 * notes (bench/NOTES.md), which a run never overwrites.
 */
export function toMarkdown(report: BenchReport, notes: string | undefined): string {
  const out: string[] = [];
  const m = report.machine;
  const loads = report.scenarios.flatMap((s) => [s.loadAverage.before, s.loadAverage.after]);
  out.push("# Benchmarks", "");
  out.push(
    `Written by \`pnpm bench\`${report.mode === "smoke" ? " --smoke" : ""} on ${report.finishedAt.slice(0, 16).replace("T", " ")} UTC in ${formatDuration(report.durationS)}; the raw figures, every run of each, are in \`bench/results/latest.json\`. Everything above **Notes** is rewritten by each run; the notes come from \`bench/NOTES.md\`.`,
    "",
  );
  out.push(
    `- **Machine:** ${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.os}; Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}.`,
    `- **Commit:** \`${report.git.commit.slice(0, 12)}\`${report.git.dirty ? " plus uncommitted changes in the work tree" : ""}.`,
    `- **Load:** the 1-minute load average was ${loads.length > 0 ? `${formatNumber(Math.min(...loads))}–${formatNumber(Math.max(...loads))}` : "not sampled"} around the scenarios. Other processes (other engineers' test runs) were running on the same 2 cores, so absolute figures are noisy; ratios to baselines measured in the same run, interleaved with Promptline's, are what count.`,
    `- **Method:** each figure is the median of ${report.settings.repetitions} run${report.settings.repetitions === 1 ? "" : "s"}; warm-up is excluded from rates; every run checks that as many tasks completed as were created. Each run has its own database and queue prefix, removed afterwards.`,
    "",
  );
  out.push(
    "Run it with `pnpm bench` (15–25 minutes, longer the busier the machine; needs PostgreSQL and Redis as for `pnpm test`). `pnpm bench -- --only=throughput,e2e-latency` runs some scenarios (into `bench/results/partial.*`), `pnpm bench -- --smoke` runs everything tiny (what `pnpm test` does), `pnpm bench -- --profile` also writes V8 CPU profiles of Promptline's processes to `bench/results/profiles/`.",
    "",
  );
  for (const m of report.merged ?? []) {
    out.push(
      `Re-measured on ${m.at.slice(0, 16).replace("T", " ")} UTC at \`${m.git.commit.slice(0, 12)}\`${m.git.dirty ? " (plus uncommitted changes)" : ""} and merged in: ${m.ids.join(", ")}.`,
      "",
    );
  }
  if (report.only !== undefined) {
    out.push(`Only these scenarios were run: ${report.only.join(", ")}.`, "");
  }

  out.push("## Summary", "");
  const summary: string[][] = [];
  for (const scenario of report.scenarios) {
    if (scenario.status !== "measured") {
      const why =
        scenario.status === "failed"
          ? `**failed:** ${oneLine(scenario.reason ?? "")}`
          : `not yet measurable: ${scenario.reason ?? ""}`;
      summary.push([scenario.title, why, "—", "—", "—", "—", "—"]);
      continue;
    }
    let first = true;
    for (const figure of scenario.figures.filter((f) => f.role === "promptline")) {
      for (const row of summaryRows(figure)) {
        summary.push([first ? scenario.title : "", ...row]);
        first = false;
      }
    }
  }
  out.push(
    ...table(
      ["Scenario", "Figure", "Promptline", "Target", "Baseline", "Ratio", "Met?"],
      ["left", "left", "right", "left", "left", "right", "left"],
      summary,
    ),
    "",
  );

  const baselines = report.scenarios.flatMap((s) =>
    s.figures.filter((f) => f.role === "baseline").map((f) => ({ scenario: s.title, figure: f })),
  );
  if (baselines.length > 0) {
    out.push("## Baselines", "", "Measured in the same run, on the same PostgreSQL and Redis.", "");
    out.push(
      ...table(
        ["Scenario", "Baseline figure", "Median", "Runs"],
        ["left", "left", "right", "left"],
        baselines.map(({ scenario, figure }) => [
          scenario,
          figure.label,
          value(figure),
          figure.runs.map(formatNumber).join(", "),
        ]),
      ),
      "",
    );
  }

  const pending = report.scenarios.filter((s) => s.status === "not-measurable");
  if (pending.length > 0) {
    out.push("## Not yet measurable", "");
    for (const s of pending) out.push(`- **${s.title}:** ${s.reason ?? ""}`);
    out.push("");
  }

  out.push("## How each scenario was measured", "");
  for (const s of report.scenarios.filter((s) => s.status !== "not-measurable")) {
    out.push(`### ${s.title}`, "");
    if (s.status === "failed") out.push(`**Failed:** ${oneLine(s.reason ?? "")}`, "");
    for (const line of s.method) out.push(`- ${line}`);
    if (s.method.length > 0) out.push("");
    if (s.figures.length > 0) {
      const runs = Math.max(...s.figures.map((f) => f.runs.length));
      const runHeaders = Array.from({ length: runs }, (_, i) => `Run ${i + 1}`);
      out.push(
        ...table(
          ["Figure", ...runHeaders, "Median"],
          ["left", ...runHeaders.map((): Align => "right"), "right"],
          s.figures.map((f) => [
            f.unit === "" ? f.label : `${f.label} (${f.unit})`,
            ...f.runs.map(formatNumber),
            formatNumber(f.value),
          ]),
        ),
        "",
      );
    }
    out.push(
      `Measured ${s.measuredAt.slice(0, 16).replace("T", " ")} UTC in ${formatDuration(s.durationS)}; load average ${formatNumber(s.loadAverage.before)} before, ${formatNumber(s.loadAverage.after)} after.`,
      "",
    );
  }

  if (notes !== undefined && notes.trim() !== "") {
    out.push("## Notes", "", notes.trim(), "");
  }
  return out.join("\n");
}

type Align = "left" | "right";

/**
 * A Markdown table with every column padded to its widest cell, as the
 * repository's formatter (Biome) writes them, so a generated report passes
 * `pnpm lint` unchanged.
 */
function table(headers: string[], align: Align[], rows: string[][]): string[] {
  const widths = headers.map((h, c) =>
    Math.max(3, h.length, ...rows.map((row) => (row[c] ?? "").length)),
  );
  const pad = (text: string, c: number) => {
    const width = widths[c] ?? text.length;
    return align[c] === "right" ? text.padStart(width) : text.padEnd(width);
  };
  const line = (cells: string[]) => `| ${cells.map((cell, c) => pad(cell, c)).join(" | ")} |`;
  const rule = widths.map((w, c) =>
    align[c] === "right" ? `${"-".repeat(w - 1)}:` : "-".repeat(w),
  );
  return [line(headers), `| ${rule.join(" | ")} |`, ...rows.map(line)];
}

/** The summary rows of one figure: its absolute targets, then one row per baseline it is compared to. */
function summaryRows(figure: FigureResult): string[][] {
  const rows: string[][] = [];
  for (const t of figure.targets.filter((t) => t.baseline === undefined)) {
    rows.push([t.text, "—", "—", mark(t.met)]);
  }
  for (const c of figure.comparisons) {
    const target = figure.targets.find((t) => t.baseline === c.baseline);
    rows.push([
      target?.text ?? "—",
      `${c.baselineLabel}: ${formatNumber(c.baselineValue)}`,
      `${formatNumber(c.ratio)}×`,
      target === undefined ? "—" : mark(target.met),
    ]);
  }
  if (rows.length === 0) rows.push(["—", "—", "—", "—"]);
  return rows.map((row, i) => [i === 0 ? figure.label : "", i === 0 ? value(figure) : "", ...row]);
}

function value(figure: FigureResult): string {
  return `${formatNumber(figure.value)} ${figure.unit}`.trim();
}

function mark(met: boolean): string {
  return met ? "yes" : "**no**";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").replace(/\|/g, "\\|").slice(0, 400);
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
