import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** A queue prefix of one's own, so runs (and tests) sharing one Redis never see each other's keys. */
export function newQueuePrefix(kind: string): string {
  return `bench-${kind}-${randomBytes(5).toString("hex")}`;
}

/** Every key under `prefix:`, in pages, so a large queue does not block Redis. */
async function* keysUnder(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== "0");
}

/** Removes every key under a queue prefix. */
export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    for await (const keys of keysUnder(redis, prefix)) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}

/** What the keys under one prefix hold, measured key by key. */
export interface PrefixMemory {
  keys: number;
  /** Sum of `MEMORY USAGE key SAMPLES 0` (exact, every element counted). */
  bytes: number;
}

/**
 * The memory of this run's keys alone. Redis is shared with whatever else
 * runs on the machine, so `INFO memory` moves with other people's work;
 * summing MEMORY USAGE over our own prefix does not.
 */
export async function prefixMemory(redisUrl: string, prefix: string): Promise<PrefixMemory> {
  const redis = new Redis(redisUrl);
  try {
    let keys = 0;
    let bytes = 0;
    for await (const page of keysUnder(redis, prefix)) {
      const pipeline = redis.pipeline();
      for (const key of page) pipeline.call("MEMORY", "USAGE", key, "SAMPLES", "0");
      for (const [error, usage] of (await pipeline.exec()) ?? []) {
        if (error !== null) throw error;
        // A key that expired between SCAN and MEMORY USAGE answers nil.
        if (typeof usage === "number") {
          keys += 1;
          bytes += usage;
        }
      }
    }
    return { keys, bytes };
  } finally {
    redis.disconnect();
  }
}

/** `used_memory` from INFO memory: the whole server, other users included. */
export async function redisUsedMemory(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    const info = await redis.info("memory");
    const match = /^used_memory:(\d+)/m.exec(info);
    if (match?.[1] === undefined) throw new Error("INFO memory has no used_memory");
    return Number(match[1]);
  } finally {
    redis.disconnect();
  }
}

/** The Redis server's version, for the machine record. */
export async function redisVersion(redisUrl: string): Promise<string> {
  const redis = new Redis(redisUrl);
  try {
    const info = await redis.info("server");
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown";
  } finally {
    redis.disconnect();
  }
}

/**
 * Calls per command name since the server started (INFO commandstats). The
 * counts are the server's, not one client's: only a Redis the bench has to
 * itself (BENCH_REDIS_URL) gives exact figures per task.
 */
export async function redisCommandCalls(redisUrl: string): Promise<Map<string, number>> {
  const redis = new Redis(redisUrl);
  try {
    const info = await redis.info("commandstats");
    const calls = new Map<string, number>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] !== undefined) calls.set(match[1], Number(match[2]));
    }
    return calls;
  } finally {
    redis.disconnect();
  }
}

/** Per command, `after - before`, without the commands the measuring itself sent. */
export function commandCallsBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0) - (name === "info" ? 1 : 0);
    if (d > 0) delta.set(name, d);
  }
  return delta;
}
