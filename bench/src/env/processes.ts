import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { SERVER_DIR, SERVER_MAIN, SIMULATOR_MAIN } from "./paths.js";

/** A process the bench started, how to observe it and how to end it. */
export interface BenchProcess {
  readonly pid: number;
  /** Resident set size now, from /proc (Linux). */
  rssBytes(): Promise<number>;
  /** User + system CPU time used so far, from /proc (Linux). */
  cpuMs(): Promise<number>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface PromptlineProcess extends BenchProcess {
  /** The API's base URL; undefined for a worker. */
  readonly url: string | undefined;
}

export interface PromptlineProcessOptions {
  role: "all" | "api" | "worker";
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** The simulator the process sends its model calls to (one per bench run, see {@link startSimulatorProcess}). */
  simulatorUrl: string;
  /** More environment, e.g. WORKER_CONCURRENCY. */
  env?: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof` for a profile. */
  nodeArgs?: readonly string[];
}

/**
 * A real Promptline process, started the way production starts it
 * (`node --import tsx src/main.ts <role>`), on a free port. Resolves once it
 * says it runs. Logs go to a ring buffer that is shown if it fails.
 */
export async function startPromptline(
  options: PromptlineProcessOptions,
): Promise<PromptlineProcess> {
  const child = track(
    spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), "--import", "tsx", SERVER_MAIN, options.role],
      {
        cwd: SERVER_DIR,
        env: {
          ...baseEnv(),
          HOST: "127.0.0.1",
          PORT: "0",
          DATABASE_URL: options.databaseUrl,
          REDIS_URL: options.redisUrl,
          QUEUE_PREFIX: options.queuePrefix,
          SIMULATOR_URL: options.simulatorUrl,
          // Info is what production runs with, and the worker says it runs at info.
          LOG_LEVEL: "info",
          LOG_FORMAT: "json",
          SHUTDOWN_GRACE_MS: "2000",
          ...options.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
  );
  const ready = await waitForLine(child, `promptline ${options.role}`, (line) => {
    const parsed = parseJson(line);
    if (parsed === undefined) return undefined;
    const msg = parsed.msg;
    if (typeof msg !== "string" || !/Promptline (worker )?running/.test(msg)) return undefined;
    return { url: typeof parsed.url === "string" ? parsed.url : undefined };
  });
  return { ...observe(child), url: ready.url };
}

/** The built-in simulator in a process of its own, so its work is not counted as Promptline's. */
export async function startSimulatorProcess(): Promise<BenchProcess & { url: string }> {
  const child = track(
    spawn(process.execPath, ["--import", "tsx", SIMULATOR_MAIN, "0"], {
      cwd: SERVER_DIR,
      env: baseEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const { url } = await waitForLine(child, "simulator", (line) => {
    const match = /listening at (http:\/\/\S+)/.exec(line);
    return match?.[1] === undefined ? undefined : { url: match[1] };
  });
  return { ...observe(child), url };
}

/**
 * Only what a process needs to run, not the bench's whole environment: a
 * stray NVIDIA_API_KEY or LLM_BASE_URL must not send benchmark traffic
 * anywhere but the simulator.
 */
function baseEnv(): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"]) {
    const value = process.env[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

const STARTUP_TIMEOUT_MS = 60_000;
const KEPT_LINES = 40;

/**
 * Reads the child's stdout and stderr line by line until `match` accepts a
 * line. Output keeps being drained afterwards (a full pipe would stall the
 * child), and only the last lines are kept, for the error if it dies.
 */
function waitForLine<T>(
  child: ChildProcess,
  what: string,
  match: (line: string) => T | undefined,
): Promise<T> {
  const recent: string[] = [];
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle(() =>
        reject(
          new Error(`${what} did not start in ${STARTUP_TIMEOUT_MS} ms:\n${recent.join("\n")}`),
        ),
      );
    }, STARTUP_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on("line", (line) => {
        recent.push(line);
        if (recent.length > KEPT_LINES) recent.shift();
        if (settled) return;
        const found = match(line);
        if (found !== undefined) settle(() => resolve(found));
      });
    }
    child.once("exit", (code, signal) => {
      settle(() =>
        reject(
          new Error(`${what} exited (${code ?? signal}) before it ran:\n${recent.join("\n")}`),
        ),
      );
    });
    child.once("error", (error) => settle(() => reject(error)));
  });
}

/** Every child still running, killed if the bench exits without stopping them (a crash). */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

function observe(child: ChildProcess): BenchProcess {
  const pid = child.pid;
  if (pid === undefined) throw new Error("child process has no pid");

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    pid,
    rssBytes: () => rssBytes(pid),
    cpuMs: () => cpuMs(pid),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process, in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

/** Clock ticks per second of /proc/<pid>/stat: 100 on every mainstream Linux build (USER_HZ). */
const USER_HZ = 100;

/** utime + stime of a process, in milliseconds (10 ms resolution). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its closing paren are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 overall: 12 and 13 after the name.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`bad /proc/${pid}/stat`);
  return ((utime + stime) * 1000) / USER_HZ;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value))
      : undefined;
  } catch {
    return undefined;
  }
}
