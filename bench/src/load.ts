import { sleep } from "./context.js";

export interface OpenLoopOptions {
  ratePerS: number;
  durationS: number;
  /** One request; its latency is measured from the moment it is sent. */
  call: (i: number) => Promise<void>;
}

export interface OpenLoopResult {
  sent: number;
  /** Latencies of the calls that succeeded, ms. */
  latenciesMs: number[];
  errors: number;
  firstError: string | undefined;
  /** How late the worst send was against its schedule: shows whether the rate was really offered. */
  maxSendLagMs: number;
  /** Calls ÷ the time it took to send them all. */
  achievedRatePerS: number;
}

/**
 * Offers load at a fixed rate, whatever the responses do (an open loop):
 * call i is sent at start + i / rate, without waiting for earlier calls.
 * A closed loop (send, wait, send) would slow down with the server and hide
 * exactly the queueing a latency target is about.
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round(options.ratePerS * options.durationS));
  const intervalMs = 1000 / options.ratePerS;
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let maxSendLagMs = 0;
  const inFlight: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    // Timers fire up to a millisecond late; shorter waits are not worth one.
    if (wait >= 1) await sleep(Math.floor(wait));
    const sentAt = performance.now();
    maxSendLagMs = Math.max(maxSendLagMs, sentAt - due);
    inFlight.push(
      options.call(i).then(
        () => {
          latenciesMs.push(performance.now() - sentAt);
        },
        (error: unknown) => {
          errors += 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        },
      ),
    );
  }
  const sendSpanMs = performance.now() - start;
  await Promise.all(inFlight);
  return {
    sent: total,
    latenciesMs,
    errors,
    firstError,
    maxSendLagMs,
    achievedRatePerS: total / ((sendSpanMs + intervalMs) / 1000),
  };
}
