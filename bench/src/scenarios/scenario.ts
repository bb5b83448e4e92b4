import type { BenchContext } from "../context.js";
import type { FigureSpec, RunSample } from "../figures.js";
import { Scope } from "../scope.js";

/** What a measured scenario hands the report. */
export interface ScenarioOutcome {
  /** How it was measured, one sentence each. */
  method: string[];
  specs: FigureSpec[];
  samples: RunSample[];
}

/** One of issue 8's scenarios: measured, or listed with why it cannot be yet. */
export type Scenario =
  | {
      id: string;
      title: string;
      run(ctx: BenchContext): Promise<ScenarioOutcome>;
    }
  | { id: string; title: string; notMeasurable: string };

/**
 * Runs `once` for each repetition, each in a scope of its own (its own
 * database, queue prefix and processes, released before the next starts).
 */
export async function repeat(
  ctx: BenchContext,
  what: string,
  once: (scope: Scope, repetition: number) => Promise<RunSample>,
): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  for (let i = 0; i < ctx.settings.repetitions; i++) {
    ctx.log(`${what}: run ${i + 1}/${ctx.settings.repetitions}`);
    samples.push(await Scope.with((scope) => once(scope, i)));
  }
  return samples;
}

/** Throws unless every task or job created was seen completed: a run that lost work measures nothing. */
export function checkAllCompleted(what: string, created: number, completed: number): void {
  if (created !== completed) {
    throw new Error(`${what}: created ${created} but ${completed} completed`);
  }
}
