import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { TaskService, TaskStatus } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcJsClient, grpcUnary } from "./grpc-js-client.js";
import { startTestApp, type TestApp, waitFor } from "./harness.js";
import { settled } from "./task-client.js";

const ECHO_MODEL = "simulator/echo";

let app: TestApp;
let connect: Client<typeof TaskService>;
let grpcWeb: Client<typeof TaskService>;

beforeAll(async () => {
  app = await startTestApp();
  connect = createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
  grpcWeb = createClient(
    TaskService,
    createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  await app?.close();
});

async function expectConnectError(promise: Promise<unknown>, code: Code, message: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  const connectError = ConnectError.from(error);
  expect(Code[connectError.code]).toBe(Code[code]);
  expect(connectError.rawMessage).toMatch(message);
}

describe("Connect protocol (HTTP/1.1)", () => {
  it("creates a task that runs on the simulator and completes with its output", async () => {
    const { task } = await connect.createTask(
      { name: "greeting", prompt: "Say hello", model: ECHO_MODEL, params: { temperature: 0.2 } },
      { headers: { "x-request-id": "test-req-1" } },
    );
    expect(task?.status).toBe(TaskStatus.QUEUED);
    expect(task?.requestId).toBe("test-req-1");
    const id = task?.id ?? "";
    const done = await settled(connect, id);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.output).toContain("Say hello");
    expect(done.provider).toBe("simulator");
    expect(done.usage?.completionTokens).toBeGreaterThan(0);
    expect(done.attempts).toBe(1);
    expect(done.latency).toBeDefined();
    for (const t of [done.createdAt, done.queuedAt, done.startedAt, done.completedAt]) {
      expect(t).toBeDefined();
    }
    expect(done.params?.temperature).toBe(0.2);
  });

  it("echoes the caller's x-request-id, or makes one", async () => {
    let headers: Headers | undefined;
    await connect.listModels(
      {},
      { onHeader: (h) => (headers = h), headers: { "x-request-id": "abc-123" } },
    );
    expect(headers?.get("x-request-id")).toBe("abc-123");
    await connect.listModels({}, { onHeader: (h) => (headers = h) });
    expect(headers?.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("rejects bad input with InvalidArgument naming the field", async () => {
    await expectConnectError(
      connect.createTask({ prompt: " ", model: ECHO_MODEL }),
      Code.InvalidArgument,
      /^prompt: /,
    );
    await expectConnectError(
      connect.createTask({ prompt: "x", model: "" }),
      Code.InvalidArgument,
      /^model: /,
    );
    await expectConnectError(
      connect.createTask({ prompt: "x", model: "nosuchprovider-model" }),
      Code.InvalidArgument,
      /^model: /,
    );
    await expectConnectError(
      connect.createTask({ prompt: "x", model: ECHO_MODEL, params: { temperature: 3 } }),
      Code.InvalidArgument,
      /^params\.temperature: /,
    );
    await expectConnectError(
      connect.createTask({ prompt: "x", model: ECHO_MODEL, parentTaskId: "not-a-uuid" }),
      Code.InvalidArgument,
      /^parent_task_id: /,
    );
    await expectConnectError(connect.getTask({ id: "nope" }), Code.InvalidArgument, /^id: /);
    await expectConnectError(
      connect.listTasks({ pageToken: "garbage" }),
      Code.InvalidArgument,
      /^page_token: /,
    );
  });

  it("answers NotFound for an unknown task id", async () => {
    await expectConnectError(
      connect.getTask({ id: "0190a5c8-0000-7000-8000-000000000000" }),
      Code.NotFound,
      /not found/,
    );
  });

  it("ends a task failed with the provider's error when the provider refuses", async () => {
    const { task } = await connect.createTask({
      prompt: '[[sim status=400 message="temperature is not supported"]] hi',
      model: ECHO_MODEL,
    });
    const done = await settled(connect, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.FAILED);
    expect(done.error?.code).toBe("PROVIDER_BAD_REQUEST");
    expect(done.error?.httpStatus).toBe(400);
    expect(done.error?.message).toContain("temperature is not supported");
    expect(done.output).toBe("");
  });

  it("lists newest first with filters, text search and cursor pagination", async () => {
    const marker = `needle${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { task } = await connect.createTask({
        name: `list ${i}`,
        prompt: `${marker} number ${i}`,
        model: ECHO_MODEL,
      });
      ids.push(task?.id ?? "");
    }
    const first = await connect.listTasks({ query: marker, pageSize: 3 });
    expect(first.tasks.map((t) => t.id)).toEqual(ids.slice(2).reverse());
    expect(first.nextPageToken).not.toBe("");
    const second = await connect.listTasks({
      query: marker,
      pageSize: 3,
      pageToken: first.nextPageToken,
    });
    expect(second.tasks.map((t) => t.id)).toEqual(ids.slice(0, 2).reverse());
    expect(second.nextPageToken).toBe("");

    await Promise.all(ids.map((id) => settled(connect, id)));
    const completed = await connect.listTasks({ query: marker, statuses: [TaskStatus.COMPLETED] });
    expect(completed.tasks).toHaveLength(5);
    const failed = await connect.listTasks({ query: marker, statuses: [TaskStatus.FAILED] });
    expect(failed.tasks).toHaveLength(0);
  });

  it("lists the simulator's models, marked as simulated", async () => {
    const { models } = await connect.listModels({});
    const echo = models.find((m) => m.id === ECHO_MODEL);
    expect(echo?.provider).toBe("simulator");
    expect(echo?.simulated).toBe(true);
  });
});

describe("gRPC-web protocol (HTTP/1.1)", () => {
  it("creates and reads a task", async () => {
    const { task } = await grpcWeb.createTask({ prompt: "via grpc-web", model: ECHO_MODEL });
    const done = await settled(grpcWeb, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.output).toContain("via grpc-web");
    await expectConnectError(
      grpcWeb.createTask({ prompt: "", model: ECHO_MODEL }),
      Code.InvalidArgument,
      /^prompt: /,
    );
  });
});

describe("gRPC over HTTP/2 with @grpc/grpc-js", () => {
  it("creates a task that completes, and maps errors to gRPC status codes", async () => {
    const client = grpcJsClient(app.url);
    try {
      const created = await grpcUnary(client, TaskService.method.createTask, {
        prompt: "via grpc-js",
        model: ECHO_MODEL,
      });
      const id = created.task?.id ?? "";
      const done = await waitFor(async () => {
        const { task } = await grpcUnary(client, TaskService.method.getTask, { id });
        return task?.status === TaskStatus.COMPLETED ? task : undefined;
      });
      expect(done.output).toContain("via grpc-js");

      const invalid = await grpcError(
        grpcUnary(client, TaskService.method.createTask, { prompt: "", model: ECHO_MODEL }),
      );
      expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(invalid.details).toMatch(/^prompt: /);

      const missing = await grpcError(
        grpcUnary(client, TaskService.method.getTask, {
          id: "0190a5c8-0000-7000-8000-000000000000",
        }),
      );
      expect(missing.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });
});

async function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ code: expect.any(Number), details: expect.any(String) });
  return error as { code: number; details: string };
}

describe("HTTP endpoints", () => {
  it("answers /healthz and /readyz", async () => {
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      checks: { postgres: { ok: true }, redis: { ok: true } },
    });
  });
});
