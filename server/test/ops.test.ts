import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type GetQueueStatsResponse, TaskService, TaskStatus } from "@promptline/proto";
import { Redis } from "ioredis";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listWorkers, WorkerRegistry } from "../src/queue/worker-registry.js";
import { startTestApp, TEST_REDIS_URL, type TestApp, waitFor } from "./harness.js";

const ECHO = "simulator/echo";
const terminal = new Set([TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED]);

function client(app: TestApp): Client<typeof TaskService> {
  return createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
}

async function settle(tasks: Client<typeof TaskService>, ids: string[]): Promise<void> {
  for (const id of ids) {
    await waitFor(
      async () => {
        const { task } = await tasks.getTask({ id });
        return task !== undefined && terminal.has(task.status) ? true : undefined;
      },
      { what: `task ${id} to finish` },
    );
  }
}

async function createAll(tasks: Client<typeof TaskService>, prompts: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const prompt of prompts) {
    const { task } = await tasks.createTask({ prompt, model: ECHO });
    ids.push(task?.id ?? "");
  }
  return ids;
}

function countOf(stats: GetQueueStatsResponse, status: TaskStatus): bigint | undefined {
  return stats.counts.find((c) => c.status === status)?.count;
}

describe("GetQueueStats", () => {
  let app: TestApp;
  let tasks: Client<typeof TaskService>;

  beforeAll(async () => {
    app = await startTestApp({ WORKER_CONCURRENCY: "4" });
    tasks = client(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("counts every status, the last hour's finished tasks, the error rate and latency", async () => {
    const ids = await createAll(tasks, [
      "[[sim ttft=30]] one",
      "[[sim ttft=40]] two",
      "[[sim ttft=50]] three",
      "[[sim status=400]] bad request",
    ]);
    await settle(tasks, ids);

    const stats = await tasks.getQueueStats({});
    expect(stats.counts.map((c) => TaskStatus[c.status])).toEqual([
      "PENDING",
      "QUEUED",
      "RUNNING",
      "COMPLETED",
      "FAILED",
      "CANCELLED",
    ]);
    expect(countOf(stats, TaskStatus.COMPLETED)).toBe(3n);
    expect(countOf(stats, TaskStatus.FAILED)).toBe(1n);
    expect(countOf(stats, TaskStatus.PENDING)).toBe(0n);
    expect(countOf(stats, TaskStatus.CANCELLED)).toBe(0n);
    expect(stats.models).toEqual([]);
    expect(stats.finishedLastMinute).toBe(4n);
    expect(stats.finishedLastHour).toBe(4n);
    expect(stats.errorRateLastHour).toBe(0.25);
    const p50 = stats.latencyP50 === undefined ? 0 : durationMs(stats.latencyP50);
    const p95 = stats.latencyP95 === undefined ? 0 : durationMs(stats.latencyP95);
    expect(p50).toBeGreaterThanOrEqual(30);
    expect(p95).toBeGreaterThanOrEqual(p50);
    // BullMQ removes a finished job just after the task's end is stored: wait for it.
    await waitFor(async () => {
      const now = await tasks.getQueueStats({});
      return now.queueWaiting + now.queueDelayed + now.queueActive === 0n ? true : undefined;
    });
  });

  it("leaves tasks that finished over an hour ago out of the window", async () => {
    const [id = ""] = await createAll(tasks, ["[[sim status=400]] long ago"]);
    await settle(tasks, [id]);
    await sql`update tasks set completed_at = now() - interval '2 hours' where id = ${id}`.execute(
      app.db,
    );
    const stats = await tasks.getQueueStats({});
    expect(countOf(stats, TaskStatus.FAILED)).toBe(2n);
    expect(stats.finishedLastHour).toBe(4n);
    expect(stats.errorRateLastHour).toBe(0.25);
  });
});

describe("GetQueueStats while tasks wait", () => {
  let app: TestApp;
  let tasks: Client<typeof TaskService>;

  beforeAll(async () => {
    app = await startTestApp({ WORKER_CONCURRENCY: "1", SHUTDOWN_GRACE_MS: "0" });
    tasks = client(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("shows jobs waiting in Redis and the depth per model", async () => {
    await createAll(
      tasks,
      [1, 2, 3, 4].map((n) => `[[sim ttft=2000]] slow ${n}`),
    );
    const stats = await waitFor(
      async () => {
        const s = await tasks.getQueueStats({});
        return s.queueActive === 1n && countOf(s, TaskStatus.RUNNING) === 1n ? s : undefined;
      },
      { what: "one task running" },
    );
    expect(stats.queueWaiting).toBe(3n);
    expect(stats.queueDelayed).toBe(0n);
    expect(countOf(stats, TaskStatus.QUEUED)).toBe(3n);
    expect(stats.models).toEqual([
      expect.objectContaining({ model: ECHO, waiting: 3n, running: 1n }),
    ]);
    expect(stats.finishedLastHour).toBe(0n);
    expect(stats.latencyP50).toBeUndefined();
    expect(stats.errorRateLastHour).toBe(0);
  });
});

describe("ListWorkers", () => {
  let app: TestApp;
  let tasks: Client<typeof TaskService>;

  beforeAll(async () => {
    app = await startTestApp({ WORKER_CONCURRENCY: "3" });
    tasks = client(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("shows the app's worker with its concurrency, and its counts grow", async () => {
    const { workers } = await tasks.listWorkers({});
    expect(workers).toHaveLength(1);
    const [before] = workers;
    expect(before).toMatchObject({ host: hostname(), pid: process.pid, concurrency: 3 });
    expect(before?.id).toContain(`:${process.pid}:`);

    const ids = await createAll(tasks, ["first", "second", "[[sim status=400]] third"]);
    await settle(tasks, ids);
    const after = await waitFor(
      async () => {
        const [w] = (await tasks.listWorkers({})).workers;
        return w !== undefined && w.processed >= (before?.processed ?? 0n) + 3n ? w : undefined;
      },
      { what: "the worker's processed count to grow by 3" },
    );
    expect(after.id).toBe(before?.id);
    expect(after.failed).toBe((before?.failed ?? 0n) + 1n);
    expect(after.active).toBe(0);
    expect(after.startedAt).toEqual(before?.startedAt);
    expect(Number(after.lastSeenAt?.seconds)).toBeGreaterThanOrEqual(
      Number(before?.lastSeenAt?.seconds),
    );
  });

  it("is answered by an API-only process from the shared registry", async () => {
    const api = await startTestApp({ PROMPTLINE_ROLE: "api", QUEUE_PREFIX: app.queuePrefix });
    try {
      const other = client(api);
      const { workers } = await other.listWorkers({});
      const mine = (await tasks.listWorkers({})).workers;
      expect(workers.map((w) => w.id)).toEqual(mine.map((w) => w.id));
    } finally {
      await api.close();
    }
  });

  it("drops a worker that stops cleanly at once", async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const registry = new WorkerRegistry({
        redisUrl: TEST_REDIS_URL,
        prefix: app.queuePrefix,
        id: "clean-stop",
        concurrency: 2,
      });
      await registry.start();
      const ids = async () => (await listWorkers(redis, app.queuePrefix)).map((w) => w.id);
      expect(await ids()).toContain("clean-stop");
      await registry.stop();
      expect(await ids()).not.toContain("clean-stop");
    } finally {
      redis.disconnect();
    }
  });

  it("drops a worker killed with SIGKILL once its TTL runs out", async () => {
    const child = await startRegistryProcess(app.queuePrefix, "killed-9");
    try {
      const listed = await waitFor(
        async () => (await tasks.listWorkers({})).workers.find((w) => w.id === "killed-9"),
        { what: "the child process to register" },
      );
      expect(listed).toMatchObject({ pid: child.pid, concurrency: 5 });
      child.kill("SIGKILL");
      await waitFor(
        async () => {
          const { workers } = await tasks.listWorkers({});
          return workers.some((w) => w.id === "killed-9") ? undefined : true;
        },
        { what: "the killed worker to leave the list" },
      );
      // The app's own worker keeps beating meanwhile.
      expect((await tasks.listWorkers({})).workers).toHaveLength(1);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

const registryModule = fileURLToPath(new URL("../src/queue/worker-registry.ts", import.meta.url));

/** A separate process that registers a worker with a short TTL, so a test can kill -9 it. */
async function startRegistryProcess(prefix: string, id: string) {
  const code = `
    const { WorkerRegistry } = await import(${JSON.stringify(registryModule)});
    const registry = new WorkerRegistry({
      redisUrl: ${JSON.stringify(TEST_REDIS_URL)},
      prefix: ${JSON.stringify(prefix)},
      id: ${JSON.stringify(id)},
      concurrency: 5,
      heartbeatMs: 100,
      ttlMs: 400,
    });
    await registry.start();
    // Lives until killed, or until the test process goes away and closes stdin.
    process.stdin.resume();
    process.stdin.on("end", () => process.exit(0));
    process.stdout.write("registered\\n");
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["pipe", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("registered")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`registry process exited with ${code}`)));
  });
  return child;
}
