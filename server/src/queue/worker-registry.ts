import { hostname } from "node:os";
import { Redis } from "ioredis";

/** A live worker process as the registry last heard from it. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  /** Tasks running now. */
  active: number;
  /** Runs finished since the process started, failed ones included. */
  processed: number;
  /** Runs that ended with the task failed, or threw. */
  failed: number;
  startedAt: Date;
  lastSeenAt: Date;
}

export interface WorkerRegistryOptions {
  redisUrl: string;
  /** The queue prefix: workers of one deployment register side by side. */
  prefix: string;
  id: string;
  concurrency: number;
  /** Defaults to this machine's host name and this process's pid. */
  host?: string;
  pid?: number;
  /** How often the entry is rewritten (5 s when unset). */
  heartbeatMs?: number;
  /** How long an entry outlives its last heartbeat: 3 heartbeats when unset. */
  ttlMs?: number;
  /**
   * A run that starts or ends is written within this long (250 ms when unset),
   * so ListWorkers shows live counts without one Redis write per task.
   */
  flushDelayMs?: number;
  /** A heartbeat that could not be written (Redis away); the next one tries again. */
  onError?: (error: Error) => void;
}

/** The set of registered ids stays long after its members: readers prune it. */
const SET_TTL_MS = 24 * 60 * 60 * 1000;

const setKey = (prefix: string) => `${prefix}:registry:workers`;
const workerKey = (prefix: string, id: string) => `${prefix}:registry:worker:${id}`;

/**
 * A worker process's entry in Redis: a hash with a TTL of a few heartbeats,
 * and its id in a set of the prefix. A process that dies stops refreshing its
 * hash, which expires, so dead workers leave the list by themselves; a
 * process that stops cleanly removes its entry at once. Any API process can
 * answer ListWorkers from it with {@link listWorkers}.
 */
export class WorkerRegistry {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #static: {
    id: string;
    host: string;
    pid: number;
    concurrency: number;
    startedAt: number;
  };
  readonly #heartbeatMs: number;
  readonly #ttlMs: number;
  readonly #flushDelayMs: number;
  readonly #onError: (error: Error) => void;
  #active = 0;
  #processed = 0;
  #failed = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #flush: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: WorkerRegistryOptions) {
    // Fail fast rather than pile up heartbeats while Redis is away.
    this.#redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    // Outages surface as failed heartbeats through onError; this keeps ioredis quiet.
    this.#redis.on("error", () => {});
    this.#prefix = options.prefix;
    this.#static = {
      id: options.id,
      host: options.host ?? hostname(),
      pid: options.pid ?? process.pid,
      concurrency: options.concurrency,
      startedAt: Date.now(),
    };
    this.#heartbeatMs = options.heartbeatMs ?? 5_000;
    this.#ttlMs = options.ttlMs ?? 3 * this.#heartbeatMs;
    this.#flushDelayMs = options.flushDelayMs ?? 250;
    this.#onError = options.onError ?? (() => {});
  }

  /** Writes the first heartbeat (so the worker is listed once this resolves), then keeps beating. */
  async start(): Promise<void> {
    await this.#write();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  /**
   * Wraps a job runner so the registry counts its runs. A run that resolves
   * counts as processed, and as failed too when it resolves with the outcome
   * `failed` (a string, or an object with that `outcome`); a run that throws
   * counts as processed and failed.
   */
  track<A extends unknown[], R>(run: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      this.#active += 1;
      this.#changed();
      let failed = true;
      try {
        const result = await run(...args);
        failed = outcomeOf(result) === "failed";
        return result;
      } finally {
        this.#active -= 1;
        this.#processed += 1;
        if (failed) this.#failed += 1;
        this.#changed();
      }
    };
  }

  /** Stops the heartbeat and removes the entry, then drops the connection. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#flush);
    try {
      await this.#redis
        .multi()
        .del(workerKey(this.#prefix, this.#static.id))
        .srem(setKey(this.#prefix), this.#static.id)
        .exec();
    } catch (error) {
      this.#onError(asError(error));
    } finally {
      this.#redis.disconnect();
    }
  }

  #changed(): void {
    if (this.#stopped || this.#flush !== undefined) return;
    this.#flush = setTimeout(() => {
      this.#flush = undefined;
      void this.#beat();
    }, this.#flushDelayMs);
    this.#flush.unref();
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#write();
    } catch (error) {
      this.#onError(asError(error));
    }
  }

  /** Every field every time, so an entry lost with a Redis restart comes back whole. */
  async #write(): Promise<void> {
    const key = workerKey(this.#prefix, this.#static.id);
    const results = await this.#redis
      .multi()
      .hset(key, {
        ...this.#static,
        lastSeenAt: Date.now(),
        active: this.#active,
        processed: this.#processed,
        failed: this.#failed,
      })
      .pexpire(key, this.#ttlMs)
      .sadd(setKey(this.#prefix), this.#static.id)
      .pexpire(setKey(this.#prefix), Math.max(SET_TTL_MS, this.#ttlMs))
      .exec();
    const failure = results?.find(([error]) => error !== null)?.[0];
    if (failure) throw failure;
  }
}

/**
 * The workers registered under `prefix`, oldest first. Ids whose entry has
 * expired are pruned from the set; a live worker pruned by a race with its
 * own heartbeat puts itself back on the next one.
 */
export async function listWorkers(redis: Redis, prefix: string): Promise<WorkerInfo[]> {
  const ids = await redis.smembers(setKey(prefix));
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(workerKey(prefix, id));
  const results = (await pipeline.exec()) ?? [];
  const workers: WorkerInfo[] = [];
  const gone: string[] = [];
  for (const [i, id] of ids.entries()) {
    const [error, hash] = results[i] ?? [null, {}];
    if (error) throw error;
    if (!isRecord(hash) || Object.keys(hash).length === 0) {
      gone.push(id);
      continue;
    }
    const worker = parseWorker(hash);
    if (worker !== undefined) workers.push(worker);
  }
  if (gone.length > 0) await redis.srem(setKey(prefix), ...gone);
  return workers.sort(
    (a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.id.localeCompare(b.id),
  );
}

/** Undefined for an entry that is not whole (written by some other version, or by hand). */
function parseWorker(hash: Record<string, string>): WorkerInfo | undefined {
  const number = (field: string) => Number(hash[field] ?? Number.NaN);
  const worker: WorkerInfo = {
    id: hash.id ?? "",
    host: hash.host ?? "",
    pid: number("pid"),
    concurrency: number("concurrency"),
    active: number("active"),
    processed: number("processed"),
    failed: number("failed"),
    startedAt: new Date(number("startedAt")),
    lastSeenAt: new Date(number("lastSeenAt")),
  };
  const numbers = [worker.pid, worker.concurrency, worker.active, worker.processed, worker.failed];
  const times = [worker.startedAt.getTime(), worker.lastSeenAt.getTime()];
  return worker.id !== "" && [...numbers, ...times].every(Number.isFinite) ? worker : undefined;
}

function outcomeOf(result: unknown): unknown {
  if (typeof result === "object" && result !== null && "outcome" in result) return result.outcome;
  return result;
}

/** HGETALL answers an object of strings ({} for a missing key). */
function isRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
