import { Writable } from "node:stream";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  type GetTaskRequest,
  GetTaskRequestSchema,
  GetTaskResponseSchema,
  TaskService,
  TaskStatus,
} from "@promptline/proto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorInterceptor, requestIdInterceptor } from "../src/api/interceptors.js";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";
import { createLogger } from "../src/logger.js";
import { grpcJsClient } from "./grpc-js-client.js";
import { startTestApp, type TestApp, waitFor } from "./harness.js";

const MODEL = "simulator/echo";
/** The server's cap for unary calls in this file: short, so a test can outlast it. */
const CAP_MS = 1_000;

let simulator: Simulator;
let app: TestApp;
let client: Client<typeof TaskService>;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  simulator = await startSimulator({ port: 0 });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (line !== "") logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  app = await startTestApp(
    { SIMULATOR_URL: simulator.url, MAX_REQUEST_TIMEOUT_MS: String(CAP_MS) },
    { log: createLogger({ level: "debug", format: "json", secrets: [] }, false, sink) },
  );
  client = createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  await app?.close();
  await simulator?.close();
});

/** Holds an exclusive lock on `tasks` until released: every query on it waits, a slow path on demand. */
async function lockTasks(): Promise<{ release(): Promise<void> }> {
  const db = new pg.Client({ connectionString: app.databaseUrl });
  await db.connect();
  await db.query("begin");
  await db.query("lock table tasks in access exclusive mode");
  return {
    async release() {
      await db.query("rollback");
      await db.end();
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return ConnectError.from(error);
}

/** A task that stays pending for an hour: a watch on it never ends by itself. */
async function pendingTask(): Promise<string> {
  const { task } = await client.createTask({
    prompt: "later",
    model: MODEL,
    runAt: timestampFromMs(Date.now() + 3_600_000),
  });
  expect(task?.status).toBe(TaskStatus.PENDING);
  return task?.id ?? "";
}

describe("request ids", () => {
  it("puts the x-request-id on every log line of the request and sends it to the provider", async () => {
    const requestId = `trace-${Date.now()}`;
    const { task } = await client.createTask(
      { prompt: "follow me", model: MODEL },
      { headers: { "x-request-id": requestId } },
    );
    await waitFor(async () => {
      const { task: now } = await client.getTask({ id: task?.id ?? "" });
      return now?.status === TaskStatus.COMPLETED ? now : undefined;
    });
    expect(simulator.stats().recent.some((r) => r.headers["x-request-id"] === requestId)).toBe(
      true,
    );

    const ended = logLines.find((l) => l.requestId === requestId && l.msg === "rpc ended");
    expect(ended).toMatchObject({ rpc: "promptline.v1.TaskService/CreateTask", code: "OK" });
    const rpcLines = logLines.filter((l) => l.rpc !== undefined);
    expect(rpcLines.length).toBeGreaterThan(1);
    for (const line of rpcLines) expect(line.requestId).toEqual(expect.any(String));
  });

  it("puts the request id on the log line of an unexpected error, and in the message the client gets", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger(
      { level: "info", format: "json", secrets: [] },
      false,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    const failing = createClient(
      TaskService,
      createRouterTransport(
        (router) =>
          router.service(TaskService, {
            listModels() {
              throw new Error("something nobody expected");
            },
          }),
        { router: { interceptors: [requestIdInterceptor(log), errorInterceptor(log)] } },
      ),
    );
    const error = await failure(failing.listModels({}, { headers: { "x-request-id": "oops-1" } }));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error (request id oops-1)");
    expect(lines).toEqual([
      expect.objectContaining({
        msg: "unhandled error",
        requestId: "oops-1",
        rpc: "promptline.v1.TaskService/ListModels",
        err: expect.objectContaining({ message: "something nobody expected" }),
      }),
    ]);
  });
});

describe("deadlines", () => {
  it("answers DeadlineExceeded from the server once the caller's connect-timeout-ms passes", async () => {
    const id = await pendingTask();
    const lock = await lockTasks();
    try {
      const started = Date.now();
      const response = await fetch(`${app.url}/promptline.v1.TaskService/GetTask`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "connect-protocol-version": "1",
          "connect-timeout-ms": "300",
        },
        body: JSON.stringify({ id }),
      });
      expect(await response.json()).toMatchObject({ code: "deadline_exceeded" });
      expect(Date.now() - started).toBeLessThan(CAP_MS);

      const error = await failure(client.getTask({ id }, { timeoutMs: 300 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
    } finally {
      await lock.release();
    }
  });

  it("caps a unary call with no deadline (or a longer one) at MAX_REQUEST_TIMEOUT_MS", async () => {
    const id = await pendingTask();
    const lock = await lockTasks();
    try {
      for (const timeoutMs of [undefined, 60_000]) {
        const started = Date.now();
        const error = await failure(client.getTask({ id }, { timeoutMs }));
        expect(error.code).toBe(Code.DeadlineExceeded);
        expect(error.rawMessage).toMatch(/server's limit of 1000 ms/);
        expect(Date.now() - started).toBeGreaterThanOrEqual(CAP_MS - 50);
      }
    } finally {
      await lock.release();
    }
  });

  it("honours a gRPC deadline from @grpc/grpc-js on a unary call", async () => {
    const id = await pendingTask();
    const lock = await lockTasks();
    const grpcClient = grpcJsClient(app.url);
    try {
      const error = await new Promise<grpc.ServiceError | null>((resolve) => {
        grpcClient.makeUnaryRequest(
          `/${TaskService.typeName}/${TaskService.method.getTask.name}`,
          (m: GetTaskRequest) => Buffer.from(toBinary(GetTaskRequestSchema, m)),
          (b: Buffer) => fromBinary(GetTaskResponseSchema, b),
          create(GetTaskRequestSchema, { id }),
          new grpc.Metadata(),
          { deadline: new Date(Date.now() + 300) },
          (e) => resolve(e),
        );
      });
      expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      grpcClient.close();
      await lock.release();
    }
  });

  it("ends a Connect WatchTask stream with DeadlineExceeded at the caller's deadline", async () => {
    const id = await pendingTask();
    const started = Date.now();
    const messages: unknown[] = [];
    const error = await failure(
      (async () => {
        for await (const message of client.watchTask({ id }, { timeoutMs: 300 })) {
          messages.push(message);
        }
      })(),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(messages).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(CAP_MS);
  });

  it("ends the stream itself with DeadlineExceeded when a caller does not hang up", async () => {
    // A raw Connect stream: the client here never aborts, so what ends the
    // stream is the server's own deadline, and its end-of-stream says so.
    const id = await pendingTask();
    const json = new TextEncoder().encode(JSON.stringify({ id }));
    const request = new Uint8Array(5 + json.length);
    new DataView(request.buffer).setUint32(1, json.length);
    request.set(json, 5);
    const response = await fetch(`${app.url}/promptline.v1.TaskService/WatchTask`, {
      method: "POST",
      headers: {
        "content-type": "application/connect+json",
        "connect-protocol-version": "1",
        "connect-timeout-ms": "300",
      },
      body: request,
    });
    const frames = connectFrames(new Uint8Array(await response.arrayBuffer()));
    expect(frames.filter((f) => !f.end)).toHaveLength(1);
    expect(frames.at(-1)).toMatchObject({
      end: true,
      json: { error: { code: "deadline_exceeded" } },
    });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(
      /promptline_rpc_duration_seconds_count\{method="promptline\.v1\.TaskService\/WatchTask",type="server_stream",code="DEADLINE_EXCEEDED"\} [1-9]/,
    );
  });

  it("lets a server stream outlive the unary cap", async () => {
    const id = await pendingTask();
    const started = Date.now();
    const error = await failure(
      (async () => {
        for await (const _ of client.watchTask({ id }, { timeoutMs: CAP_MS + 500 })) {
          // Only the snapshot comes; the stream stays open until the deadline.
        }
      })(),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeGreaterThanOrEqual(CAP_MS + 400);
  });
});

/** The enveloped messages of a Connect streaming response body. */
function connectFrames(bytes: Uint8Array): Array<{ end: boolean; json: unknown }> {
  const frames: Array<{ end: boolean; json: unknown }> = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 5 <= bytes.length; ) {
    const flags = view.getUint8(at);
    const length = view.getUint32(at + 1);
    const body = new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length));
    frames.push({ end: (flags & 0b10) !== 0, json: JSON.parse(body) });
    at += 5 + length;
  }
  return frames;
}
