import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { type LiveStatus, type MessageVerdict, runWatchLoop } from "./watchLoop";

/** A scripted connection: yields its messages, then ends, throws, or hangs until aborted. */
interface Script {
  messages: string[];
  after: "end" | "hang" | Error;
}

function scripted(scripts: Script[]) {
  const opened: number[] = [];
  const open = (signal: AbortSignal): AsyncIterable<string> => {
    const n = opened.length;
    opened.push(n);
    const script = scripts[Math.min(n, scripts.length - 1)] ?? { messages: [], after: "hang" };
    return (async function* () {
      for (const m of script.messages) yield m;
      if (script.after === "end") return;
      if (script.after instanceof Error) throw script.after;
      await new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(new ConnectError("aborted", Code.Canceled)));
      });
    })();
  };
  return { open, opened };
}

function recorder(verdicts: Record<string, MessageVerdict> = {}) {
  const statuses: LiveStatus[] = [];
  const messages: string[] = [];
  return {
    statuses,
    messages,
    modes: () => statuses.map((s) => s.mode),
    onStatus: (s: LiveStatus) => statuses.push(s),
    onMessage: (m: string): MessageVerdict => {
      messages.push(m);
      return verdicts[m] ?? "continue";
    },
  };
}

describe("runWatchLoop", () => {
  it("goes live at the first message and stops when told the watch is done", async () => {
    const { open, opened } = scripted([
      { messages: ["snapshot", "delta", "final"], after: "hang" },
    ]);
    const rec = recorder({ final: "done" });
    const connected = vi.fn();
    await runWatchLoop({
      open,
      ...rec,
      onConnected: connected,
      signal: new AbortController().signal,
    });
    expect(rec.messages).toEqual(["snapshot", "delta", "final"]);
    expect(rec.modes()).toEqual(["live"]);
    expect(connected).toHaveBeenCalledTimes(1);
    expect(opened).toHaveLength(1);
  });

  it("falls back to polling on an error and goes live again when a retry works", async () => {
    const { open } = scripted([
      { messages: [], after: new ConnectError("not here yet", Code.Unimplemented) },
      { messages: [], after: new TypeError("Failed to fetch") },
      { messages: ["snapshot", "final"], after: "hang" },
    ]);
    const rec = recorder({ final: "done" });
    const delays: number[] = [];
    await runWatchLoop({
      open,
      ...rec,
      signal: new AbortController().signal,
      retryDelay: (failures) => {
        delays.push(failures);
        return 1;
      },
    });
    expect(rec.modes()).toEqual(["polling", "live"]);
    expect(rec.statuses[0]?.reason).toMatch(/does not support/);
    expect(delays).toEqual([1, 2]);
  });

  it("falls back when no first message arrives in time (a buffering proxy)", async () => {
    const { open, opened } = scripted([
      { messages: [], after: "hang" },
      { messages: ["snapshot", "final"], after: "hang" },
    ]);
    const rec = recorder({ final: "done" });
    await runWatchLoop({
      open,
      ...rec,
      signal: new AbortController().signal,
      firstMessageTimeoutMs: 20,
      retryDelay: () => 1,
    });
    expect(rec.modes()).toEqual(["polling", "live"]);
    expect(rec.statuses[0]?.reason).toMatch(/buffering/);
    expect(opened).toHaveLength(2);
  });

  it("treats an early end as a failure, and counts failures from the last good connection", async () => {
    const { open } = scripted([
      { messages: ["a"], after: "end" },
      { messages: [], after: "end" },
      { messages: ["b"], after: "end" },
      { messages: ["final"], after: "hang" },
    ]);
    const rec = recorder({ final: "done" });
    const delays: number[] = [];
    await runWatchLoop({
      open,
      ...rec,
      signal: new AbortController().signal,
      retryDelay: (failures) => {
        delays.push(failures);
        return 1;
      },
    });
    expect(rec.modes()).toEqual(["live", "polling", "live", "polling", "live"]);
    expect(delays).toEqual([1, 2, 1]);
  });

  it("reconnects after a gap without leaving live mode", async () => {
    const { open, opened } = scripted([
      { messages: ["a", "gap", "never"], after: "hang" },
      { messages: ["final"], after: "hang" },
    ]);
    const rec = recorder({ gap: "reconnect", final: "done" });
    await runWatchLoop({ open, ...rec, signal: new AbortController().signal, retryDelay: () => 1 });
    expect(rec.messages).toEqual(["a", "gap", "final"]);
    expect(rec.modes()).toEqual(["live"]);
    expect(opened).toHaveLength(2);
  });

  it("treats a connection that goes quiet as dead when heartbeats are expected", async () => {
    const { open, opened } = scripted([
      { messages: ["heartbeat"], after: "hang" },
      { messages: ["final"], after: "hang" },
    ]);
    const rec = recorder({ final: "done" });
    await runWatchLoop({
      open,
      ...rec,
      signal: new AbortController().signal,
      idleTimeoutMs: 20,
      retryDelay: () => 1,
    });
    expect(rec.modes()).toEqual(["live", "polling", "live"]);
    expect(opened).toHaveLength(2);
  });

  it("stops for good on NotFound", async () => {
    const { open, opened } = scripted([
      { messages: [], after: new ConnectError("no such task", Code.NotFound) },
    ]);
    const rec = recorder();
    const onFatal = vi.fn();
    await runWatchLoop({ open, ...rec, onFatal, signal: new AbortController().signal });
    expect(onFatal).toHaveBeenCalledOnce();
    expect(opened).toHaveLength(1);
    expect(rec.modes()).toEqual([]);
  });

  it("ends the open stream and any wait when aborted", async () => {
    const { open } = scripted([{ messages: ["a"], after: "hang" }]);
    const rec = recorder();
    const controller = new AbortController();
    const loop = runWatchLoop({ open, ...rec, signal: controller.signal });
    await vi.waitFor(() => expect(rec.messages).toEqual(["a"]));
    controller.abort();
    await loop;

    const failing = scripted([{ messages: [], after: new TypeError("Failed to fetch") }]);
    const waiting = new AbortController();
    const rec2 = recorder();
    const loop2 = runWatchLoop({
      open: failing.open,
      ...rec2,
      signal: waiting.signal,
      retryDelay: () => 60_000,
    });
    await vi.waitFor(() => expect(rec2.modes()).toEqual(["polling"]));
    waiting.abort();
    await loop2;
    expect(failing.opened).toHaveLength(1);
  });
});
