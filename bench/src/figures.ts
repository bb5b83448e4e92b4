import { median } from "./stats.js";

/** Which way a figure improves: throughput is better higher, latency lower. */
export type Better = "higher" | "lower";

/** A target from issue 8: on the figure itself, or on its ratio to a baseline figure. */
export type TargetSpec =
  | { kind: "absolute"; op: "<" | "<=" | ">="; value: number }
  | { kind: "ratio"; baseline: string; op: ">=" | "<="; value: number };

/** What a figure is, before it is measured. */
export interface FigureSpec {
  /** Unique within its scenario, e.g. `tasks_per_s`. */
  id: string;
  label: string;
  unit: string;
  better: Better;
  /** Promptline's own figure, or one measured on a baseline for comparison. */
  role: "promptline" | "baseline";
  /** Ids (in the same scenario) of baseline figures to show this figure's ratio to. */
  compareTo?: readonly string[];
  targets?: readonly TargetSpec[];
}

/** One repetition's figures (id → value) and the raw facts behind them. */
export interface RunSample {
  values: Record<string, number>;
  detail: Record<string, unknown>;
}

export interface TargetResult {
  text: string;
  met: boolean;
  /** For a ratio target: the id of the baseline figure it divides by. */
  baseline?: string;
}

export interface Comparison {
  baseline: string;
  baselineLabel: string;
  baselineValue: number;
  /** This figure ÷ the baseline's, both medians. */
  ratio: number;
}

/** A measured figure: every run's value and the median the report shows. */
export interface FigureResult extends Omit<FigureSpec, "targets" | "compareTo"> {
  /** Median of `runs`. */
  value: number;
  runs: number[];
  comparisons: Comparison[];
  targets: TargetResult[];
}

export type ScenarioStatus = "measured" | "not-measurable" | "failed";

export interface ScenarioResult {
  id: string;
  title: string;
  status: ScenarioStatus;
  /** Why a scenario was not measured, or what failed. */
  reason?: string;
  /** How it was measured, in a sentence or two each. */
  method: string[];
  figures: FigureResult[];
  /** Each repetition's facts (counts, timings, latency summaries). */
  runs: Array<Record<string, unknown>>;
  /** 1-minute load average before and after: how busy the machine was besides us. */
  loadAverage: { before: number; after: number };
  durationS: number;
  /** When it ended (ISO): scenarios merged into an earlier run's results keep their own. */
  measuredAt: string;
}

/**
 * Turns repetitions into figures: median per figure, ratios to the baseline
 * figures it names, and each target judged on the median.
 */
export function figuresFrom(
  specs: readonly FigureSpec[],
  samples: readonly RunSample[],
): FigureResult[] {
  const medians = new Map<string, number>();
  const runsOf = (id: string) =>
    samples.map((s) => {
      const value = s.values[id];
      if (value === undefined) throw new Error(`a run did not measure ${id}`);
      return value;
    });
  for (const spec of specs) medians.set(spec.id, median(runsOf(spec.id)));
  const labelOf = (id: string) => specs.find((s) => s.id === id)?.label ?? id;
  const medianOf = (id: string) => {
    const value = medians.get(id);
    if (value === undefined) throw new Error(`no figure ${id} to compare with`);
    return value;
  };
  return specs.map((spec) => {
    const value = medianOf(spec.id);
    const comparisons = (spec.compareTo ?? []).map((baseline) => ({
      baseline,
      baselineLabel: labelOf(baseline),
      baselineValue: medianOf(baseline),
      ratio: value / medianOf(baseline),
    }));
    const targets = (spec.targets ?? []).map((target) =>
      judge(target, value, spec.unit, (id) => ({
        label: labelOf(id),
        value: medianOf(id),
      })),
    );
    const { targets: _t, compareTo: _c, ...rest } = spec;
    return { ...rest, value, runs: runsOf(spec.id), comparisons, targets };
  });
}

function judge(
  target: TargetSpec,
  value: number,
  unit: string,
  baseline: (id: string) => { label: string; value: number },
): TargetResult {
  if (target.kind === "absolute") {
    return {
      text: `${SYMBOL[target.op]} ${formatNumber(target.value)} ${unit}`.trim(),
      met: compare(value, target.op, target.value),
    };
  }
  const { label, value: base } = baseline(target.baseline);
  return {
    text: `${SYMBOL[target.op]} ${target.value.toFixed(1)}× ${label}`,
    met: compare(value / base, target.op, target.value),
    baseline: target.baseline,
  };
}

const SYMBOL = { "<": "<", "<=": "≤", ">=": "≥" } as const;

function compare(value: number, op: "<" | "<=" | ">=", bound: number): boolean {
  switch (op) {
    case "<":
      return value < bound;
    case "<=":
      return value <= bound;
    case ">=":
      return value >= bound;
  }
}

/** Three significant digits, thousands separated: how every number in the report reads. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
