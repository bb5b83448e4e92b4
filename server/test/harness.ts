import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { type Logger, pino } from "pino";
import { type App, startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createTestDatabase } from "./db-fixture.js";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestApp extends App {
  url: string;
  queuePrefix: string;
  /** The test database, for other processes of the same test. */
  databaseUrl: string;
}

/**
 * A whole Promptline (API + worker + embedded simulator) on a free port, with
 * its own database and queue prefix; `close()` leaves nothing behind.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: {
    /** Lets a test put something (a cuttable proxy) between the app and its database. */
    rewriteDatabaseUrl?: (url: string) => string;
    /** The app's logger; silent (or TEST_LOG_LEVEL) by default. */
    log?: Logger;
  } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const queuePrefix = `pt-${randomUUID().slice(0, 12)}`;
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: options.rewriteDatabaseUrl?.(database.url) ?? database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    SIMULATOR: "on",
    LOG_LEVEL: "silent",
    ...env,
  });
  let app: App;
  try {
    app = await startApp(
      config,
      options.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    );
  } catch (error) {
    await database.drop();
    throw error;
  }
  const url = app.url;
  if (url === undefined) throw new Error("test app has no API");
  return {
    ...app,
    url,
    queuePrefix,
    databaseUrl: database.url,
    async close() {
      await app.close();
      await deleteRedisKeys(queuePrefix);
      await database.drop();
    },
  };
}

/** Removes every key under a queue prefix. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 25, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const SERVER_MAIN = new URL("../src/main.ts", import.meta.url).pathname;

export interface ChildProcessHandle {
  readonly pid: number;
  /** The API's base URL, for an `api` or `all` process. */
  readonly url: string | undefined;
  /** Resolves with the exit code (or signal name) once the process ended. */
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * A real Promptline process (`worker`, `api` or `all`) started with `node
 * --import tsx`, for crash and shutdown tests. Resolves once it says it runs.
 */
export async function spawnPromptline(
  role: "worker" | "api" | "all",
  env: Record<string, string>,
): Promise<ChildProcessHandle> {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["--import", "tsx", SERVER_MAIN, role], {
    // tsx resolves from the server package.
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...process.env, LOG_FORMAT: "json", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Promptline (worker )?running/.test(output)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    exited.then(
      (code) =>
        reject(
          new Error(`promptline ${role} exited (${code}) before it ran:\n${output.slice(-2000)}`),
        ),
      reject,
    );
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("child has no pid");
  const url = /Promptline running at (http:\/\/[^\s"]+)/.exec(output)?.[1];
  return { pid, url, exited, kill: (signal) => child.kill(signal) };
}
