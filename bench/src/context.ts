import type { BenchSettings } from "./settings.js";

/** What every scenario gets: its sizes, where the services are, and a way to say what it does. */
export interface BenchContext {
  settings: BenchSettings;
  /** The PostgreSQL server's maintenance database; each run makes its own database there. */
  adminDatabaseUrl: string;
  redisUrl: string;
  /** The one simulator process of this bench run (stateless, shared by every scenario). */
  simulatorUrl: string;
  /** Extra node flags for Promptline processes (`--cpu-prof …` with `--profile`). */
  promptlineNodeArgs: readonly string[];
  log(message: string): void;
}

let clockOffsetMs = performance.timeOrigin;

/**
 * Wall-clock milliseconds since the epoch with sub-millisecond resolution:
 * the monotonic clock plus an offset to the system clock, which is what
 * PostgreSQL's `now()` reads. Comparing our times with the server's needs
 * both on one clock; see {@link calibrateClock}.
 */
export function epochMs(): number {
  return clockOffsetMs + performance.now();
}

/**
 * Re-anchors {@link epochMs} on the system clock. The monotonic clock drifts
 * from it (NTP slews the system clock), so a scenario that subtracts server
 * timestamps from ours calls this before each run. `Date.now()` only has
 * millisecond resolution, so the anchor is taken the moment it ticks over.
 */
export function calibrateClock(): void {
  const start = Date.now();
  let now = start;
  let mono = performance.now();
  while (now === start) {
    mono = performance.now();
    now = Date.now();
  }
  clockOffsetMs = now - mono;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
