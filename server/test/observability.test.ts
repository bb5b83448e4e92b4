import { Writable } from "node:stream";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Task, TaskService, TaskStatus } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";
import { createLogger } from "../src/logger.js";
import { freePort } from "./fault-tools.js";
import {
  type ChildProcessHandle,
  spawnPromptline,
  startTestApp,
  TEST_REDIS_URL,
  type TestApp,
  waitFor,
} from "./harness.js";

/** Shaped like a real NVIDIA key, so the shape-based scrubbing is exercised too. */
const NVIDIA_KEY = `nvapi-${"Zk3".repeat(12)}`;

function captured(): { sink: Writable; text(): string } {
  const chunks: string[] = [];
  return {
    sink: new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
    text: () => chunks.join(""),
  };
}

let simulator: Simulator;
let app: TestApp;
let client: Client<typeof TaskService>;
const logs = captured();

beforeAll(async () => {
  simulator = await startSimulator({ port: 0 });
  const env = {
    NVIDIA_API_KEY: NVIDIA_KEY,
    LLM_BASE_URL: simulator.url,
    SIMULATOR_URL: simulator.url,
    RETRY_BASE_MS: "1",
    RETRY_MAX_MS: "5",
  };
  // The logger main.ts would build from this environment, at its most verbose.
  const config = { ...loadConfig(env).log, level: "trace" as const };
  app = await startTestApp(env, { log: createLogger(config, false, logs.sink) });
  client = createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  await app?.close();
  await simulator?.close();
});

async function settled(id: string): Promise<Task> {
  return waitFor(
    async () => {
      const { task } = await client.getTask({ id });
      return task !== undefined &&
        [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED].includes(task.status)
        ? task
        : undefined;
    },
    { what: `task ${id} to finish` },
  );
}

/** One sample of `name` with exactly these labels, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  for (const line of text.split("\n")) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = (match[2] ?? "")
      .split(/,(?=[a-z_]+=")/)
      .filter((l) => l !== "")
      .sort()
      .join(",");
    if (have === want) return Number(match[3]);
  }
  return undefined;
}

describe("logs", () => {
  it("never write an API key or a bearer token, wherever it appears", async () => {
    // A provider that refuses, a retried failure and a success: the request
    // paths that log the most, each carrying the key to the provider.
    const ids = await Promise.all(
      [
        "[[sim status=401]] refused",
        `[[sim warmup=1 status=500 key=k${Date.now()}]] flaky`,
        "fine",
      ].map(async (prompt) => (await client.createTask({ prompt, model: "nim/echo" })).task?.id),
    );
    for (const id of ids) await settled(id ?? "");
    const sent = simulator.stats().recent.filter((r) => r.headers.authorization !== undefined);
    expect(sent.map((r) => r.headers.authorization)).toContain(`Bearer ${NVIDIA_KEY}`);

    // And what code might log by mistake: the config, headers, a message.
    const log = createLogger(
      { level: "trace", format: "json", secrets: [NVIDIA_KEY] },
      false,
      logs.sink,
    );
    const config = loadConfig({ NVIDIA_API_KEY: NVIDIA_KEY });
    log.info({ config }, "config");
    log.info({ headers: { authorization: "Bearer user-key-123456", Authorization: "x" } }, "h");
    log.info({ provider: { nested: { deeper: { apiKey: NVIDIA_KEY } } } }, "deep");
    log.error({ err: new Error(`provider said: bad key ${NVIDIA_KEY}`) }, "failed");
    log.warn(`calling with Authorization: Bearer user-key-123456 and ${NVIDIA_KEY}`);

    const text = logs.text();
    expect(text).toContain("[redacted]");
    expect(text).not.toContain(NVIDIA_KEY);
    expect(text).not.toContain("Zk3Zk3Zk3");
    expect(text).not.toContain("user-key-123456");
    for (const line of text.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe("/metrics", () => {
  it("exposes RPCs, tasks, queue depth, provider requests, tokens, cost, retries and process metrics", async () => {
    const flaky = await client.createTask({
      prompt: `[[sim warmup=1 status=500 key=m${Date.now()}]] flaky`,
      model: "simulator/echo",
    });
    const done = await settled(flaky.task?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.attempts).toBe(2);
    const missing = await client.getTask({ id: "0190a5c8-0000-7000-8000-000000000000" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(missing?.code).toBe(Code.NotFound);

    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const rpc = "promptline_rpc_duration_seconds_count";
    const createTask = "promptline.v1.TaskService/CreateTask";
    expect(sample(text, rpc, { method: createTask, type: "unary", code: "OK" })).toBeGreaterThan(0);
    expect(
      sample(text, rpc, {
        method: "promptline.v1.TaskService/GetTask",
        type: "unary",
        code: "NOT_FOUND",
      }),
    ).toBe(1);
    expect(sample(text, "promptline_tasks", { status: "completed" })).toBeGreaterThan(0);
    expect(sample(text, "promptline_tasks", { status: "running" })).toBe(0);
    expect(sample(text, "promptline_task_stats_up", {})).toBe(1);
    for (const state of ["waiting", "delayed", "active"]) {
      expect(sample(text, "promptline_queue_jobs", { state })).toBeGreaterThanOrEqual(0);
    }
    const requests = "promptline_provider_requests_total";
    expect(sample(text, requests, { provider: "simulator", status: "200", code: "" })).toBe(1);
    expect(
      sample(text, requests, {
        provider: "simulator",
        status: "500",
        code: "PROVIDER_SERVER_ERROR",
      }),
    ).toBe(1);
    const tokens = "promptline_provider_tokens_total";
    const echo = { provider: "simulator", model: "simulator/echo" };
    expect(sample(text, tokens, { ...echo, kind: "prompt" })).toBe(done.usage?.promptTokens);
    expect(sample(text, tokens, { ...echo, kind: "completion" })).toBe(
      done.usage?.completionTokens,
    );
    expect(sample(text, "promptline_provider_cost_usd_total", echo)).toBeCloseTo(done.costUsd, 12);
    expect(sample(text, "promptline_task_retries_total", {})).toBeGreaterThanOrEqual(1);
    expect(sample(text, "promptline_worker_jobs_total", { outcome: "retrying" })).toBe(
      sample(text, "promptline_task_retries_total", {}),
    );
    expect(sample(text, "promptline_worker_jobs_total", { outcome: "completed" })).toBeGreaterThan(
      0,
    );
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });
});

describe("a worker process", () => {
  let api: TestApp;
  let worker: ChildProcessHandle | undefined;
  afterAll(async () => {
    worker?.kill("SIGTERM");
    await worker?.exited;
    await api?.close();
  });

  it("serves its own counters on METRICS_PORT", async () => {
    api = await startTestApp({ PROMPTLINE_ROLE: "api", SIMULATOR_URL: simulator.url });
    const port = await freePort();
    worker = await spawnPromptline("worker", {
      DATABASE_URL: api.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: api.queuePrefix,
      SIMULATOR_URL: simulator.url,
      METRICS_PORT: String(port),
    });
    const workerClient = createClient(
      TaskService,
      createConnectTransport({ baseUrl: api.url, httpVersion: "1.1" }),
    );
    const { task } = await workerClient.createTask({
      prompt: "on a worker",
      model: "simulator/echo",
    });
    await waitFor(async () => {
      const { task: now } = await workerClient.getTask({ id: task?.id ?? "" });
      return now?.status === TaskStatus.COMPLETED ? now : undefined;
    });
    const text = await waitFor(async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return sample(body, "promptline_worker_jobs_total", { outcome: "completed" }) === 1
        ? body
        : undefined;
    });
    expect(
      sample(text, "promptline_provider_requests_total", {
        provider: "simulator",
        status: "200",
        code: "",
      }),
    ).toBe(1);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(404);
  }, 30_000);
});
