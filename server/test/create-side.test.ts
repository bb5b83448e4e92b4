import { randomUUID } from "node:crypto";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { CreateTaskRequestSchema, TaskService, TaskStatus } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestHash } from "../src/api/request-hash.js";
import { grpcJsClient, grpcUnary } from "./grpc-js-client.js";
import { startTestApp, type TestApp } from "./harness.js";
import { settled } from "./task-client.js";

const MODEL = "simulator/echo";
type CreateInit = MessageInitShape<typeof CreateTaskRequestSchema>;

let app: TestApp;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  app = await startTestApp();
  client = createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  await app?.close();
});

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return ConnectError.from(error);
}

async function expectCode(promise: Promise<unknown>, code: Code, message: RegExp): Promise<void> {
  const error = await rejection(promise);
  expect(Code[error.code]).toBe(Code[code]);
  expect(error.rawMessage).toMatch(message);
}

async function countRows(where: { marker?: string; key?: string }): Promise<number> {
  let query = app.db.selectFrom("tasks").select((eb) => eb.fn.countAll<number>().as("n"));
  if (where.marker !== undefined) query = query.where("prompt", "like", `%${where.marker}%`);
  if (where.key !== undefined) query = query.where("idempotency_key", "like", `${where.key}%`);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

const unique = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe("CreateTask's scheduling fields", () => {
  it("validates each new field and names it", async () => {
    const base: CreateInit = { prompt: "x", model: MODEL };
    const cases: Array<[CreateInit, RegExp]> = [
      [{ ...base, maxAttempts: 11 }, /^max_attempts: must be from 1 to 10/],
      [{ ...base, maxAttempts: -1 }, /^max_attempts: /],
      [{ ...base, timeout: durationFromMs(999) }, /^timeout: must be between 1s and 1h$/],
      [{ ...base, timeout: durationFromMs(3_600_001) }, /^timeout: must be between 1s and 1h$/],
      [{ ...base, timeout: { seconds: 5n, nanos: -1 } }, /^timeout: is not a valid duration$/],
      [{ ...base, queueTtl: durationFromMs(500) }, /^queue_ttl: must be between 1s and 7d$/],
      [{ ...base, queueTtl: durationFromMs(8 * 86_400_000) }, /^queue_ttl: must be between/],
      [
        { ...base, runAt: timestampFromMs(Date.now() + 31 * 86_400_000) },
        /^run_at: must be at most 30 days ahead$/,
      ],
      [{ ...base, runAt: { seconds: 1n, nanos: -5 } }, /^run_at: is not a valid timestamp$/],
      [{ ...base, idempotencyKey: "k".repeat(201) }, /^idempotency_key: must be at most 200/],
    ];
    for (const [request, message] of cases) {
      await expectCode(client.createTask(request), Code.InvalidArgument, message);
    }
  });

  it("stores max_attempts, timeout, queue_ttl and the key, and shows them back", async () => {
    const key = unique("fields");
    const { task } = await client.createTask({
      prompt: "fields",
      model: MODEL,
      maxAttempts: 5,
      timeout: durationFromMs(30_000),
      queueTtl: durationFromMs(90_000),
      idempotencyKey: key,
    });
    expect(task?.maxAttempts).toBe(5);
    expect(task?.timeout?.seconds).toBe(30n);
    expect(task?.queueTtl?.seconds).toBe(90n);
    expect(task?.idempotencyKey).toBe(key);
    expect(task?.runAt).toBeUndefined();
    expect(task?.cancelRequestedAt).toBeUndefined();
    const row = await app.db
      .selectFrom("tasks")
      .selectAll()
      .where("id", "=", task?.id ?? "")
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      max_attempts: 5,
      timeout_ms: 30_000,
      queue_ttl_ms: 90_000,
      idempotency_key: key,
      run_at: null,
    });
    expect(row.request_hash).toMatch(/^[0-9a-f]{64}$/);
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.timeout?.seconds).toBe(30n);

    const plain = await client.createTask({ prompt: "defaults", model: MODEL });
    expect(plain.task?.maxAttempts).toBe(3);
    expect(plain.task?.timeout).toBeUndefined();
    expect(plain.task?.queueTtl).toBeUndefined();
    expect(plain.task?.idempotencyKey).toBe("");
  });

  it("honors the stored timeout: an attempt longer than it fails with TIMEOUT", async () => {
    const { task } = await client.createTask({
      prompt: "[[sim ttft=5000]] slow",
      model: MODEL,
      timeout: durationFromMs(1_000),
    });
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.FAILED);
    expect(done.error?.code).toBe("TIMEOUT");
  });

  it("treats a run_at in the past as now", async () => {
    const before = Date.now();
    const { task } = await client.createTask({
      prompt: "past run_at",
      model: MODEL,
      runAt: timestampFromMs(before - 3_600_000),
    });
    expect(task?.status).not.toBe(TaskStatus.PENDING);
    expect(timestampDate(task?.runAt ?? timestampFromMs(0)).getTime()).toBeGreaterThanOrEqual(
      before,
    );
    expect((await settled(client, task?.id ?? "")).status).toBe(TaskStatus.COMPLETED);
  });

  it("keeps a task with a future run_at pending, then runs it no earlier than run_at", async () => {
    const runAtMs = Date.now() + 1_500;
    const { task } = await client.createTask({
      prompt: "scheduled",
      model: MODEL,
      runAt: timestampFromMs(runAtMs),
    });
    const id = task?.id ?? "";
    expect(task?.status).toBe(TaskStatus.PENDING);
    expect(task?.queuedAt).toBeUndefined();
    expect(timestampDate(task?.runAt ?? timestampFromMs(0)).getTime()).toBe(runAtMs);
    const soon = await client.getTask({ id });
    if (Date.now() < runAtMs) expect(soon.task?.status).toBe(TaskStatus.PENDING);

    const done = await settled(client, id);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    const startedAt = timestampDate(done.startedAt ?? timestampFromMs(0)).getTime();
    expect(startedAt).toBeGreaterThanOrEqual(runAtMs);
    const { events } = await client.getTask({ id });
    expect(events.map((e) => e.toStatus)).toEqual([
      TaskStatus.PENDING,
      TaskStatus.QUEUED,
      TaskStatus.RUNNING,
      TaskStatus.COMPLETED,
    ]);
  });
});

describe("idempotent CreateTask", () => {
  it("returns the stored task for the same key and request; AlreadyExists for another request", async () => {
    const key = unique("idem");
    const request: CreateInit = {
      prompt: "idempotent",
      model: MODEL,
      metadata: { a: "1", b: "2" },
      idempotencyKey: key,
    };
    const first = await client.createTask(request);
    await settled(client, first.task?.id ?? "");
    // Same request, map entries in another order and another x-request-id.
    const again = await client.createTask(
      { ...request, metadata: { b: "2", a: "1" } },
      { headers: { "x-request-id": "another-request" } },
    );
    expect(again.task?.id).toBe(first.task?.id);
    expect(again.task?.status).toBe(TaskStatus.COMPLETED);
    expect(await countRows({ key })).toBe(1);

    await expectCode(
      client.createTask({ ...request, prompt: "something else" }),
      Code.AlreadyExists,
      /^idempotency_key: already used with a different request$/,
    );
    expect(await countRows({ key })).toBe(1);
  });

  it("makes one task of 10 concurrent creates with one key", async () => {
    const key = unique("race");
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.createTask({ prompt: "race", model: MODEL, idempotencyKey: key }),
      ),
    );
    const ids = new Set(responses.map((r) => r.task?.id));
    expect(ids.size).toBe(1);
    expect(await countRows({ key })).toBe(1);
    const done = await settled(client, [...ids][0] ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.attempts).toBe(1);
  });
});

describe("BatchCreateTasks", () => {
  it("creates 100 tasks in request order, and all complete", async () => {
    const marker = unique("batch100");
    const { tasks } = await client.batchCreateTasks({
      tasks: Array.from({ length: 100 }, (_, i) => ({
        prompt: `${marker} item ${i}`,
        model: MODEL,
      })),
    });
    expect(tasks).toHaveLength(100);
    tasks.forEach((t, i) => {
      expect(t.prompt).toBe(`${marker} item ${i}`);
      expect([TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.COMPLETED]).toContain(t.status);
    });
    const done = await Promise.all(tasks.map((t) => settled(client, t.id, 30_000)));
    done.forEach((t, i) => {
      expect(t.status).toBe(TaskStatus.COMPLETED);
      expect(t.output).toBe(`Echo: ${marker} item ${i}`);
    });
    expect(await countRows({ marker })).toBe(100);
  });

  it("stores nothing when one item is invalid, names a missing model or parent", async () => {
    const marker = unique("bad-batch");
    const items = (n: number): CreateInit[] =>
      Array.from({ length: n }, (_, i) => ({ prompt: `${marker} ${i}`, model: MODEL }));

    const empty = items(5);
    empty[3] = { prompt: "  ", model: MODEL };
    await expectCode(
      client.batchCreateTasks({ tasks: empty }),
      Code.InvalidArgument,
      /^tasks\[3\]\.prompt: must not be empty$/,
    );
    const badParam = items(3);
    badParam[1] = { prompt: `${marker} x`, model: MODEL, timeout: durationFromMs(10) };
    await expectCode(
      client.batchCreateTasks({ tasks: badParam }),
      Code.InvalidArgument,
      /^tasks\[1\]\.timeout: /,
    );
    const unknownModel = items(4);
    unknownModel[2] = { prompt: `${marker} y`, model: "nosuchprovider/model" };
    await expectCode(
      client.batchCreateTasks({ tasks: unknownModel }),
      Code.InvalidArgument,
      /^tasks\[2\]\.model: /,
    );
    const missingParent = items(3);
    missingParent[1] = { prompt: `${marker} z`, model: MODEL, parentTaskId: randomUUID() };
    await expectCode(
      client.batchCreateTasks({ tasks: missingParent }),
      Code.InvalidArgument,
      /^tasks\[1\]\.parent_task_id: task [0-9a-f-]{36} does not exist$/,
    );
    expect(await countRows({ marker })).toBe(0);
  });

  it("refuses an empty batch and one of 101", async () => {
    await expectCode(client.batchCreateTasks({ tasks: [] }), Code.InvalidArgument, /^tasks: /);
    const marker = unique("b101");
    await expectCode(
      client.batchCreateTasks({
        tasks: Array.from({ length: 101 }, () => ({ prompt: marker, model: MODEL })),
      }),
      Code.InvalidArgument,
      /^tasks: must have at most 100 tasks/,
    );
    expect(await countRows({ marker })).toBe(0);
  });

  it("replays a keyed batch, refuses another batch with its key and per-task keys in it", async () => {
    const key = unique("batch-key");
    const batch = {
      idempotencyKey: key,
      // More than 10, so "#10" sorting before "#2" as text cannot go unnoticed.
      tasks: Array.from({ length: 12 }, (_, i) => ({ prompt: `keyed ${key} ${i}`, model: MODEL })),
    };
    const first = await client.batchCreateTasks(batch);
    const firstIds = first.tasks.map((t) => t.id);
    expect(first.tasks.map((t) => t.idempotencyKey)).toEqual(
      batch.tasks.map((_, i) => `${key}#${i}`),
    );
    expect(first.tasks.map((t) => t.prompt)).toEqual(batch.tasks.map((t) => t.prompt));
    const replay = await client.batchCreateTasks(batch);
    expect(replay.tasks.map((t) => t.id)).toEqual(firstIds);
    expect(await countRows({ key })).toBe(12);

    await expectCode(
      client.batchCreateTasks({ ...batch, tasks: batch.tasks.slice(0, 2) }),
      Code.AlreadyExists,
      /^idempotency_key: already used with a different request$/,
    );
    await expectCode(
      client.batchCreateTasks({
        idempotencyKey: unique("outer"),
        tasks: [
          { prompt: "a", model: MODEL },
          { prompt: "b", model: MODEL, idempotencyKey: "inner" },
        ],
      }),
      Code.InvalidArgument,
      /^tasks\[1\]\.idempotency_key: must be empty when the batch has an idempotency_key$/,
    );
    expect(await countRows({ key })).toBe(12);
    await Promise.all(firstIds.map((id) => settled(client, id)));
  });

  it("treats per-task keys in an unkeyed batch like CreateTask's", async () => {
    const key = unique("per-task");
    const existing = await client.createTask({ prompt: "solo", model: MODEL, idempotencyKey: key });
    const marker = unique("mixed");
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { prompt: `${marker} new`, model: MODEL },
        { prompt: "solo", model: MODEL, idempotencyKey: key },
      ],
    });
    expect(tasks[1]?.id).toBe(existing.task?.id);
    expect(tasks[0]?.id).not.toBe(existing.task?.id);
    expect(await countRows({ key })).toBe(1);

    await expectCode(
      client.batchCreateTasks({
        tasks: [
          { prompt: `${marker} other`, model: MODEL },
          { prompt: "not solo", model: MODEL, idempotencyKey: key },
        ],
      }),
      Code.AlreadyExists,
      /^tasks\[1\]\.idempotency_key: already used with a different request$/,
    );
    await expectCode(
      client.batchCreateTasks({
        tasks: [
          { prompt: "x", model: MODEL, idempotencyKey: "dup" },
          { prompt: "y", model: MODEL, idempotencyKey: "dup" },
        ],
      }),
      Code.InvalidArgument,
      /^tasks\[1\]\.idempotency_key: repeats tasks\[0\]'s key$/,
    );
    expect(await countRows({ marker })).toBe(1);
    await settled(client, tasks[0]?.id ?? "");
  });

  it("delays the batch's run_at tasks and queues the rest", async () => {
    const runAtMs = Date.now() + 60_000;
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { prompt: "now", model: MODEL },
        { prompt: "later", model: MODEL, runAt: timestampFromMs(runAtMs) },
      ],
    });
    expect(tasks[0]?.status).not.toBe(TaskStatus.PENDING);
    expect(tasks[1]?.status).toBe(TaskStatus.PENDING);
    await settled(client, tasks[0]?.id ?? "");
    expect((await client.getTask({ id: tasks[1]?.id ?? "" })).task?.status).toBe(
      TaskStatus.PENDING,
    );
    await client.cancelTask({ id: tasks[1]?.id ?? "" });
  });
});

describe("RetryTask", () => {
  it("retries a failed task with a new series: attempt numbers go on, history is kept", async () => {
    const { task } = await client.createTask({
      prompt: '[[sim status=400 message="nope"]] always fails',
      model: MODEL,
    });
    const id = task?.id ?? "";
    expect((await settled(client, id)).attempts).toBe(1);

    for (const attempt of [2, 3]) {
      const retried = await client.retryTask({ id });
      expect(retried.task?.status).toBe(TaskStatus.QUEUED);
      expect(retried.task?.error).toBeUndefined();
      expect(retried.task?.completedAt).toBeUndefined();
      const done = await settled(client, id);
      expect(done.status).toBe(TaskStatus.FAILED);
      expect(done.attempts).toBe(attempt);
      expect(done.error?.code).toBe("PROVIDER_BAD_REQUEST");
    }
    const { attempts, events } = await client.getTask({ id });
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(attempts.every((a) => a.error?.httpStatus === 400)).toBe(true);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.toStatus)).toEqual([
      TaskStatus.QUEUED,
      TaskStatus.RUNNING,
      TaskStatus.FAILED,
      TaskStatus.QUEUED,
      TaskStatus.RUNNING,
      TaskStatus.FAILED,
      TaskStatus.QUEUED,
      TaskStatus.RUNNING,
      TaskStatus.FAILED,
    ]);
    const row = await app.db
      .selectFrom("tasks")
      .select(["series_start_attempt", "attempts"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ series_start_attempt: 3, attempts: 3 });
  });

  it("retries into success when the failure was transient", async () => {
    const simKey = unique("warm");
    const { task } = await client.createTask({
      prompt: `[[sim status=400 warmup=1 key=${simKey}]] flaky`,
      model: MODEL,
    });
    const id = task?.id ?? "";
    expect((await settled(client, id)).status).toBe(TaskStatus.FAILED);
    await client.retryTask({ id });
    const done = await settled(client, id);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.output).toBe("Echo: flaky");
    expect(done.error).toBeUndefined();
    expect(done.attempts).toBe(2);
  });

  it("retries a cancelled task, which then runs now", async () => {
    const { task } = await client.createTask({
      prompt: "cancelled then retried",
      model: MODEL,
      runAt: timestampFromMs(Date.now() + 120_000),
    });
    const id = task?.id ?? "";
    await client.cancelTask({ id });
    expect((await settled(client, id)).status).toBe(TaskStatus.CANCELLED);
    const retried = await client.retryTask({ id });
    expect(retried.task?.status).toBe(TaskStatus.QUEUED);
    expect((await settled(client, id)).status).toBe(TaskStatus.COMPLETED);
  });

  it("refuses tasks that are not failed or cancelled, naming the status", async () => {
    const { task } = await client.createTask({ prompt: "fine", model: MODEL });
    await settled(client, task?.id ?? "");
    await expectCode(
      client.retryTask({ id: task?.id ?? "" }),
      Code.FailedPrecondition,
      /is completed; only failed or cancelled tasks can be retried/,
    );
    const later = await client.createTask({
      prompt: "later",
      model: MODEL,
      runAt: timestampFromMs(Date.now() + 120_000),
    });
    await expectCode(
      client.retryTask({ id: later.task?.id ?? "" }),
      Code.FailedPrecondition,
      /is pending/,
    );
    await client.cancelTask({ id: later.task?.id ?? "" });
    await expectCode(client.retryTask({ id: randomUUID() }), Code.NotFound, /not found/);
  });
});

describe("DeleteTask", () => {
  it("deletes a finished task with its history; unknown ids are NotFound", async () => {
    const { task } = await client.createTask({ prompt: "to delete", model: MODEL });
    const id = task?.id ?? "";
    await settled(client, id);
    await client.deleteTask({ id });
    await expectCode(client.getTask({ id }), Code.NotFound, /not found/);
    for (const table of ["task_attempts", "task_events"] as const) {
      const left = await app.db
        .selectFrom(table)
        .select("task_id")
        .where("task_id", "=", id)
        .execute();
      expect(left).toEqual([]);
    }
    await expectCode(client.deleteTask({ id }), Code.NotFound, /not found/);
  });

  it("refuses a task that has not finished", async () => {
    const { task } = await client.createTask({
      prompt: "waiting",
      model: MODEL,
      runAt: timestampFromMs(Date.now() + 120_000),
    });
    await expectCode(
      client.deleteTask({ id: task?.id ?? "" }),
      Code.FailedPrecondition,
      /is pending; only completed, failed or cancelled tasks can be deleted/,
    );
    await client.cancelTask({ id: task?.id ?? "" });
    await client.deleteTask({ id: task?.id ?? "" });
  });

  it("keeps the children, their parent cleared", async () => {
    const parent = await client.createTask({ prompt: "parent", model: MODEL });
    const parentId = parent.task?.id ?? "";
    await settled(client, parentId);
    const done = await client.createTask({
      prompt: "child 1",
      model: MODEL,
      parentTaskId: parentId,
    });
    await settled(client, done.task?.id ?? "");
    const waiting = await client.createTask({
      prompt: "child 2",
      model: MODEL,
      parentTaskId: parentId,
      runAt: timestampFromMs(Date.now() + 120_000),
    });
    await client.deleteTask({ id: parentId });

    for (const child of [done.task, waiting.task]) {
      const { task } = await client.getTask({ id: child?.id ?? "" });
      expect(task?.status).toBe(
        child?.id === waiting.task?.id ? TaskStatus.PENDING : TaskStatus.COMPLETED,
      );
      expect(task?.parentTaskId).toBeUndefined();
    }
    const edges = await app.db
      .selectFrom("task_chain_edges")
      .selectAll()
      .where("parent_id", "=", parentId)
      .execute();
    expect(edges).toEqual([]);
    await client.cancelTask({ id: waiting.task?.id ?? "" });
  });
});

describe("GetTask history", () => {
  it("returns the attempts and the events of a completed task", async () => {
    const { task } = await client.createTask({ prompt: "history", model: MODEL });
    const id = task?.id ?? "";
    await settled(client, id);
    const { attempts, events } = await client.getTask({ id });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, outcome: 2 /* SUCCEEDED */ });
    expect(attempts[0]?.workerId).not.toBe("");
    expect(attempts[0]?.finishedAt).toBeDefined();
    expect(attempts[0]?.usage?.completionTokens).toBeGreaterThan(0);
    // Nothing to wait for: stored queued, its job added right after.
    expect(events.map((e) => [e.seq, e.type, e.fromStatus, e.toStatus])).toEqual([
      [1, "created", TaskStatus.UNSPECIFIED, TaskStatus.QUEUED],
      [2, "status", TaskStatus.QUEUED, TaskStatus.RUNNING],
      [3, "status", TaskStatus.RUNNING, TaskStatus.COMPLETED],
    ]);
    expect(events[1]?.attempt).toBe(1);
    expect(events.every((e) => e.at !== undefined)).toBe(true);
  });

  it("carries the error on a failed attempt and its event", async () => {
    const { task } = await client.createTask({
      prompt: '[[sim status=400 message="bad thing"]] x',
      model: MODEL,
    });
    const id = task?.id ?? "";
    await settled(client, id);
    const { attempts, events } = await client.getTask({ id });
    expect(attempts[0]?.outcome).toBe(3 /* FAILED */);
    expect(attempts[0]?.error).toMatchObject({ code: "PROVIDER_BAD_REQUEST", httpStatus: 400 });
    expect(events.at(-1)?.error?.code).toBe("PROVIDER_BAD_REQUEST");
    expect(events.at(-1)?.error?.message).toContain("bad thing");
  });
});

describe("over gRPC with @grpc/grpc-js", () => {
  it("batch-creates, replays a key, and maps AlreadyExists and FailedPrecondition", async () => {
    const grpcClient = grpcJsClient(app.url);
    try {
      const key = unique("grpc");
      const request = {
        idempotencyKey: key,
        tasks: [
          { prompt: "grpc one", model: MODEL, metadata: { x: "1", y: "2" } },
          { prompt: "grpc two", model: MODEL },
        ],
      };
      const first = await grpcUnary(grpcClient, TaskService.method.batchCreateTasks, request);
      expect(first.tasks.map((t) => t.prompt)).toEqual(["grpc one", "grpc two"]);
      // The same batch over another protocol is the same request.
      const replay = await client.batchCreateTasks(request);
      expect(replay.tasks.map((t) => t.id)).toEqual(first.tasks.map((t) => t.id));

      const conflict = await grpcUnary(grpcClient, TaskService.method.batchCreateTasks, {
        ...request,
        tasks: [{ prompt: "grpc three", model: MODEL }],
      }).catch((e: unknown) => e);
      expect(conflict).toMatchObject({
        code: grpc.status.ALREADY_EXISTS,
        details: "idempotency_key: already used with a different request",
      });

      const done = await settled(client, first.tasks[0]?.id ?? "");
      const refused = await grpcUnary(grpcClient, TaskService.method.retryTask, {
        id: done.id,
      }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
      await settled(client, first.tasks[1]?.id ?? "");
    } finally {
      grpcClient.close();
    }
  });
});

describe("request hash", () => {
  it("is the same for equal requests whatever their map order on the wire", () => {
    const a = create(CreateTaskRequestSchema, {
      prompt: "p",
      model: "m",
      metadata: { a: "1", b: "2" },
    });
    const b = create(CreateTaskRequestSchema, {
      prompt: "p",
      model: "m",
      metadata: { b: "2", a: "1" },
    });
    expect(toBinary(CreateTaskRequestSchema, a)).not.toEqual(toBinary(CreateTaskRequestSchema, b));
    expect(requestHash(CreateTaskRequestSchema, a)).toBe(requestHash(CreateTaskRequestSchema, b));
    const keyed = create(CreateTaskRequestSchema, { ...a, idempotencyKey: "k" });
    expect(requestHash(CreateTaskRequestSchema, keyed)).toBe(
      requestHash(CreateTaskRequestSchema, a),
    );
    const unset = create(CreateTaskRequestSchema, { prompt: "p", model: "m" });
    const zero = create(CreateTaskRequestSchema, { prompt: "p", model: "m", maxAttempts: 0 });
    expect(requestHash(CreateTaskRequestSchema, unset)).toBe(
      requestHash(CreateTaskRequestSchema, zero),
    );
    const other = create(CreateTaskRequestSchema, { prompt: "q", model: "m" });
    expect(requestHash(CreateTaskRequestSchema, other)).not.toBe(
      requestHash(CreateTaskRequestSchema, unset),
    );
  });
});
