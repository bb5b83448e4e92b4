import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { Redis } from "ioredis";
import type { Logger } from "pino";

export interface ResolvedRedis {
  url: string;
  /** Where the URL came from, for the start-up banner. */
  source: "REDIS_URL" | "localhost" | "private redis-server";
  stop(): Promise<void>;
}

const LOCAL_REDIS = "redis://127.0.0.1:6379";

export const REDIS_MISSING_MESSAGE = `Promptline needs Redis for its queue, and found none.
  - set REDIS_URL=redis://host:6379 to use an existing one, or
  - start one on localhost:6379, or
  - install redis-server so Promptline can start a private one:
      Debian/Ubuntu: sudo apt-get install -y redis-server
      macOS:         brew install redis`;

/** Answers true when a Redis at `url` replies to PING within a short time. */
export async function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * The design's embedded default: REDIS_URL if set; else Redis on
 * localhost:6379 if it answers; else a private redis-server from PATH,
 * persisting under `dataDir`; else an error that says how to get one.
 */
export async function resolveRedis(options: {
  configured: string | undefined;
  dataDir: string;
  log: Logger;
  /** Where to look for an already running Redis; tests point it elsewhere. */
  localUrl?: string;
  /** The redis-server binary; tests point it elsewhere. */
  redisServer?: string;
}): Promise<ResolvedRedis> {
  if (options.configured !== undefined) {
    return { url: options.configured, source: "REDIS_URL", stop: async () => {} };
  }
  const localUrl = options.localUrl ?? LOCAL_REDIS;
  if (await redisAnswers(localUrl)) {
    return { url: localUrl, source: "localhost", stop: async () => {} };
  }
  return startPrivateRedis(options.redisServer ?? "redis-server", options.dataDir, options.log);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function startPrivateRedis(
  binary: string,
  dataDir: string,
  log: Logger,
): Promise<ResolvedRedis> {
  const dir = path.resolve(dataDir, "redis");
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    binary,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--save",
      "",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const spawned = await new Promise<boolean>((resolve) => {
    child.once("spawn", () => resolve(true));
    child.once("error", () => resolve(false));
  });
  if (!spawned) throw new Error(REDIS_MISSING_MESSAGE);
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the private redis-server did not start (exit code ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  log.info({ url, dir }, "started a private redis-server");
  return {
    url,
    source: "private redis-server",
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
