import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_MISSING_MESSAGE, redisAnswers, resolveRedis } from "../src/queue/redis.js";
import { TEST_REDIS_URL } from "./harness.js";

const log = pino({ level: "silent" });
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A loopback port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "promptline-redis-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("resolveRedis (the embedded default)", () => {
  it("uses REDIS_URL as given", async () => {
    const redis = await resolveRedis({
      configured: "redis://example:1",
      dataDir: await tempDir(),
      log,
    });
    expect(redis).toMatchObject({ url: "redis://example:1", source: "REDIS_URL" });
  });

  it("uses a Redis that answers on the local address", async () => {
    const redis = await resolveRedis({
      configured: undefined,
      dataDir: await tempDir(),
      log,
      localUrl: TEST_REDIS_URL,
    });
    expect(redis).toMatchObject({ url: TEST_REDIS_URL, source: "localhost" });
  });

  it("starts a private redis-server when none answers, and stops it", async () => {
    const dataDir = await tempDir();
    const localUrl = `redis://127.0.0.1:${await unusedPort()}`;
    const redis = await resolveRedis({ configured: undefined, dataDir, log, localUrl });
    cleanups.push(() => redis.stop());
    expect(redis.source).toBe("private redis-server");
    expect(await redisAnswers(redis.url)).toBe(true);
    await redis.stop();
    expect(await redisAnswers(redis.url)).toBe(false);
  });

  it("says exactly how to get Redis when there is no redis-server either", async () => {
    const localUrl = `redis://127.0.0.1:${await unusedPort()}`;
    await expect(
      resolveRedis({
        configured: undefined,
        dataDir: await tempDir(),
        log,
        localUrl,
        redisServer: "/nonexistent/redis-server",
      }),
    ).rejects.toThrow(REDIS_MISSING_MESSAGE);
  });
});
