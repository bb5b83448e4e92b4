import { randomUUID } from "node:crypto";
import http from "node:http";
import { Writable } from "node:stream";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  AdminService,
  AuthMode,
  AuthService,
  TaskService,
  TaskStatus,
  UserRole,
  WatchTasksResponse_Change,
} from "@promptline/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../src/auth/keys.js";
import { ensureUser, insertApiKey, revokeApiKeys } from "../src/db/auth.js";
import { grpcJsClient, grpcUnary } from "./grpc-js-client.js";
import { startTestApp, type TestApp } from "./harness.js";
import { settled } from "./task-client.js";

const ECHO = "simulator/echo";

let app: TestApp;
let keys: { admin: string; alice: string; bob: string };

async function createKey(name: string, role: "admin" | "member"): Promise<string> {
  const user = await ensureUser(app.db, name, role);
  const key = generateApiKey();
  await insertApiKey(app.db, {
    userId: user.id,
    name: "test",
    prefix: key.prefix,
    keyHash: key.hash,
  });
  return key.key;
}

function bearer(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

function connectTransport(key?: string, headers: Record<string, string> = {}): Transport {
  return createConnectTransport({
    baseUrl: app.url,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        for (const [name, value] of Object.entries({ ...bearer(key), ...headers })) {
          req.header.set(name, value);
        }
        return next(req);
      },
    ],
  });
}

function tasksAs(key?: string): Client<typeof TaskService> {
  return createClient(TaskService, connectTransport(key));
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const error = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
  const connectError = ConnectError.from(error);
  return { code: connectError.code, message: connectError.rawMessage };
}

beforeAll(async () => {
  app = await startTestApp({ AUTH_MODE: "keys" });
  keys = {
    admin: await createKey(`admin-${randomUUID().slice(0, 6)}`, "admin"),
    alice: await createKey(`alice-${randomUUID().slice(0, 6)}`, "member"),
    bob: await createKey(`bob-${randomUUID().slice(0, 6)}`, "member"),
  };
}, 60_000);
afterAll(async () => {
  await app?.close();
});

describe("keys mode: authentication on every protocol", () => {
  const revokedKey = async () => {
    const user = await ensureUser(app.db, `gone-${randomUUID().slice(0, 6)}`, "member");
    const key = generateApiKey();
    const { id } = await insertApiKey(app.db, {
      userId: user.id,
      name: "",
      prefix: key.prefix,
      keyHash: key.hash,
    });
    await revokeApiKeys(app.db, { id, prefix: key.prefix });
    return key;
  };

  it("Connect: no key, a malformed header, an unknown key and a revoked key are Unauthenticated", async () => {
    const revoked = await revokedKey();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^missing API key/],
      [{ authorization: "Basic dXNlcjpwYXNz" }, /^malformed Authorization header/],
      [{ authorization: "Bearer not-a-key" }, /^invalid API key/],
      [{ authorization: `Bearer ${generateApiKey().key}` }, /is not known$/],
      [{ authorization: `Bearer ${revoked.key}` }, /has been revoked$/],
    ];
    for (const [headers, message] of cases) {
      const client = createClient(TaskService, connectTransport(undefined, headers));
      const result = await codeOf(client.listTasks({}));
      expect(result.code).toBe(Code.Unauthenticated);
      expect(result.message).toMatch(message);
    }
    // And a streaming RPC is refused before it streams.
    const stream = tasksAs().watchTasks({});
    expect((await codeOf(stream[Symbol.asyncIterator]().next())).code).toBe(Code.Unauthenticated);
  });

  it("gRPC-web: no key and a revoked key are Unauthenticated, a good key works", async () => {
    const revoked = await revokedKey();
    const web = (key?: string) =>
      createClient(
        TaskService,
        createGrpcWebTransport({
          baseUrl: app.url,
          httpVersion: "1.1",
          interceptors: [
            (next) => (req) => {
              if (key !== undefined) req.header.set("authorization", `Bearer ${key}`);
              return next(req);
            },
          ],
        }),
      );
    expect((await codeOf(web().listModels({}))).code).toBe(Code.Unauthenticated);
    expect((await codeOf(web(revoked.key).listModels({}))).code).toBe(Code.Unauthenticated);
    expect((await web(keys.alice).listModels({})).models.length).toBeGreaterThan(0);
  });

  it("gRPC (@grpc/grpc-js): no key and a revoked key are UNAUTHENTICATED, a good key works", async () => {
    const revoked = await revokedKey();
    const client = grpcJsClient(app.url);
    try {
      const call = (key?: string) => {
        const metadata = new grpc.Metadata();
        if (key !== undefined) metadata.set("authorization", `Bearer ${key}`);
        return grpcUnary(client, TaskService.method.listModels, {}, metadata);
      };
      const noKey = await call().catch((e: grpc.ServiceError) => e);
      expect(noKey).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      expect((noKey as grpc.ServiceError).details).toMatch(/^missing API key/);
      expect(await call(revoked.key).catch((e: grpc.ServiceError) => e.code)).toBe(
        grpc.status.UNAUTHENTICATED,
      );
      expect((await call(keys.bob)).models.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it("grpc.health.v1 needs no key: probes carry none", async () => {
    const client = grpcJsClient(app.url);
    try {
      const { Health } = await import("@promptline/proto");
      const response = await grpcUnary(client, Health.method.check, { service: "" });
      expect(response.status).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it("WhoAmI names the caller, its role and the mode", async () => {
    const who = await createClient(AuthService, connectTransport(keys.alice)).whoAmI({});
    expect(who.authMode).toBe(AuthMode.KEYS);
    expect(who.user?.role).toBe(UserRole.MEMBER);
    expect(who.user?.name).toMatch(/^alice-/);
    expect(keys.alice.startsWith(who.keyPrefix)).toBe(true);
    const admin = await createClient(AuthService, connectTransport(keys.admin)).whoAmI({});
    expect(admin.user?.role).toBe(UserRole.ADMIN);
  });
});

describe("keys mode: ownership", () => {
  it("a member reaching another member's task gets NotFound from every task RPC", async () => {
    const alice = tasksAs(keys.alice);
    const bob = tasksAs(keys.bob);
    const { task } = await alice.createTask({ prompt: "alice's secret plan", model: ECHO });
    const id = task?.id ?? "";
    await settled(alice, id);
    const missing = `task ${id} not found`;
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["GetTask", () => bob.getTask({ id })],
      ["CancelTask", () => bob.cancelTask({ id })],
      ["RetryTask", () => bob.retryTask({ id })],
      ["DeleteTask", () => bob.deleteTask({ id })],
      ["GetTaskLineage", () => bob.getTaskLineage({ id })],
      ["CancelChain", () => bob.cancelChain({ taskId: id })],
      ["RetryFromTask", () => bob.retryFromTask({ id })],
      ["RerunTask", () => bob.rerunTask({ id })],
      ["WatchTask", () => bob.watchTask({ id })[Symbol.asyncIterator]().next()],
    ];
    for (const [name, call] of calls) {
      expect({ name, ...(await codeOf(call())) }).toEqual({
        name,
        code: Code.NotFound,
        message: missing,
      });
    }
    // Exactly what a task that does not exist gets: nothing to tell them apart.
    expect(await codeOf(bob.getTask({ id: randomUUID() }))).toMatchObject({ code: Code.NotFound });
    // Alice's task is untouched and still hers.
    expect((await alice.getTask({ id })).task?.status).toBe(TaskStatus.COMPLETED);
  });

  it("bulk RPCs: another member's task is that item's NotFound, worded like a missing one; the caller's own are acted on", async () => {
    const alice = tasksAs(keys.alice);
    const bob = tasksAs(keys.bob);
    const made = await Promise.all([
      alice.createTask({ prompt: "alice's", model: ECHO }),
      bob.createTask({ prompt: "bob's first", model: ECHO }),
      bob.createTask({ prompt: "bob's second", model: ECHO }),
    ]);
    const [theirs = "", own = "", ownDone = ""] = made.map((r) => r.task?.id ?? "");
    await settled(alice, theirs);
    await settled(bob, own);
    await settled(bob, ownDone);
    const missing = randomUUID();
    const notFound = (id: string) => ({
      id,
      errorCode: "not_found",
      errorMessage: `task ${id} not found`,
    });

    const deleted = await bob.deleteTasks({ ids: [theirs, own, missing] });
    expect(deleted.results.map((r) => r.errorCode)).toEqual(["not_found", "", "not_found"]);
    expect(deleted.results[0]).toMatchObject(notFound(theirs));
    expect(deleted.results[2]).toMatchObject(notFound(missing));
    expect(await codeOf(bob.getTask({ id: own }))).toMatchObject({ code: Code.NotFound });

    // Bob's completed task is refused for its state, so it was reached; Alice's never is.
    for (const call of [bob.cancelTasks.bind(bob), bob.retryTasks.bind(bob)]) {
      const { results } = await call({ ids: [ownDone, theirs] });
      expect(results.map((r) => r.errorCode)).toEqual(["failed_precondition", "not_found"]);
      expect(results[1]).toMatchObject(notFound(theirs));
    }
    // Alice's task is untouched; an admin's bulk call reaches anyone's.
    expect((await alice.getTask({ id: theirs })).task?.status).toBe(TaskStatus.COMPLETED);
    const { results } = await tasksAs(keys.admin).deleteTasks({ ids: [theirs] });
    expect(results).toMatchObject([{ id: theirs, errorCode: "" }]);
  });

  it("a member cannot chain onto another's task: parent and dependencies read as missing", async () => {
    const { task } = await tasksAs(keys.alice).createTask({ prompt: "upstream", model: ECHO });
    const id = task?.id ?? "";
    const bob = tasksAs(keys.bob);
    expect(
      await codeOf(bob.createTask({ prompt: "{{parent.output}}", model: ECHO, parentTaskId: id })),
    ).toEqual({ code: Code.InvalidArgument, message: `parent_task_id: task ${id} does not exist` });
    expect(
      await codeOf(
        bob.batchCreateTasks({
          tasks: [
            { prompt: "mine", model: ECHO },
            { prompt: "x", model: ECHO, dependsOn: [{ target: { case: "taskId", value: id } }] },
          ],
        }),
      ),
    ).toEqual({
      code: Code.InvalidArgument,
      message: `tasks[1].depends_on[0].task_id: task ${id} does not exist`,
    });
  });

  it("a chain has one owner: an admin cannot hang a task on a member's, and a re-run stays the member's", async () => {
    const alice = tasksAs(keys.alice);
    const admin = tasksAs(keys.admin);
    const { task } = await alice.createTask({ prompt: "alice's chain", model: ECHO });
    const id = task?.id ?? "";
    await settled(alice, id);
    expect(
      await codeOf(
        admin.createTask({ prompt: "{{parent.output}}", model: ECHO, parentTaskId: id }),
      ),
    ).toEqual({
      code: Code.InvalidArgument,
      message: `parent_task_id: task ${id} belongs to another user; a task's parent and dependencies must be its owner's own`,
    });
    // Re-run by the admin: a branch of Alice's task (same parent and dependencies), so hers.
    const rerun = (await admin.rerunTask({ id, prompt: "again" })).task?.id ?? "";
    expect((await alice.getTask({ id: rerun })).task?.prompt).toBe("again");
    await settled(alice, rerun);
    expect((await alice.listTasks({})).tasks.map((t) => t.id)).toContain(rerun);
  });

  it("lists show a member only their own tasks; an admin sees everyone's", async () => {
    const marker = `m${randomUUID().replaceAll("-", "")}`;
    const alice = tasksAs(keys.alice);
    const bob = tasksAs(keys.bob);
    const a = (await alice.createTask({ prompt: `alice ${marker}`, model: ECHO })).task?.id;
    const b = (await bob.createTask({ prompt: `bob ${marker}`, model: ECHO })).task?.id;
    const ids = async (client: Client<typeof TaskService>) =>
      (await client.listTasks({ query: marker })).tasks.map((t) => t.id).sort();
    expect(await ids(alice)).toEqual([a]);
    expect(await ids(bob)).toEqual([b]);
    expect(await ids(tasksAs(keys.admin))).toEqual([a, b].sort());
    // An admin acts on a member's task too.
    expect((await tasksAs(keys.admin).getTask({ id: a ?? "" })).task?.prompt).toBe(
      `alice ${marker}`,
    );
  });

  it("WatchTasks sends a member only changes to their own tasks", async () => {
    const controller = new AbortController();
    const stream = tasksAs(keys.bob).watchTasks({}, { signal: controller.signal });
    const seen: string[] = [];
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the first heartbeat: the stream is live
    const alices = (await tasksAs(keys.alice).createTask({ prompt: "not for bob", model: ECHO }))
      .task?.id;
    const bobs = (await tasksAs(keys.bob).createTask({ prompt: "for bob", model: ECHO })).task?.id;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      const id = next.value.task?.id;
      if (id !== undefined) seen.push(id);
      if (id === bobs) break;
    }
    controller.abort();
    expect(seen).toContain(bobs);
    expect(seen).not.toContain(alices);
  });

  it("WatchTasks tells a member of their own deletions only", async () => {
    const alice = tasksAs(keys.alice);
    const bob = tasksAs(keys.bob);
    const alices = (await alice.createTask({ prompt: "to delete", model: ECHO })).task?.id ?? "";
    const bobs = (await bob.createTask({ prompt: "to delete", model: ECHO })).task?.id ?? "";
    await settled(alice, alices);
    await settled(bob, bobs);
    const controller = new AbortController();
    const iterator = bob.watchTasks({}, { signal: controller.signal })[Symbol.asyncIterator]();
    await iterator.next(); // the first heartbeat: the stream is live
    await alice.deleteTask({ id: alices });
    await bob.deleteTask({ id: bobs });
    const deleted: string[] = [];
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      if (next.value.change === WatchTasksResponse_Change.DELETED) {
        deleted.push(next.value.task?.id ?? "");
        if (next.value.task?.id === bobs) break;
      }
    }
    controller.abort();
    expect(deleted).toEqual([bobs]);
  });

  it("idempotency keys are per user: the same key does not return another user's task", async () => {
    const idempotencyKey = `same-${randomUUID()}`;
    const request = { prompt: "same request", model: ECHO, idempotencyKey };
    const first = await tasksAs(keys.alice).createTask(request);
    const second = await tasksAs(keys.bob).createTask(request);
    expect(second.task?.id).not.toBe(first.task?.id);
    expect((await tasksAs(keys.bob).createTask(request)).task?.id).toBe(second.task?.id);
  });

  it("admin-only RPCs are PermissionDenied for a member and work for an admin", async () => {
    const member = tasksAs(keys.alice);
    expect(await codeOf(member.getQueueStats({}))).toMatchObject({
      code: Code.PermissionDenied,
      message: expect.stringMatching(/GetQueueStats is for admins/),
    });
    expect((await codeOf(member.listWorkers({}))).code).toBe(Code.PermissionDenied);
    const adminService = (key: string) => createClient(AdminService, connectTransport(key));
    expect(
      (await codeOf(adminService(keys.alice).runRetention({ olderThanDays: 3650 }))).code,
    ).toBe(Code.PermissionDenied);
    await adminService(keys.admin).runRetention({ olderThanDays: 3650 });
    await tasksAs(keys.admin).getQueueStats({});
  });
});

describe("local mode", () => {
  it("every caller is the built-in admin, without a key, and the log warns of it", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const local = await startTestApp({}, { log: pino({ level: "info" }, sink) });
    try {
      expect(lines.join("")).toMatch(/"level":40,.*"msg":"AUTH_MODE=local: no authentication/);
      const who = await createClient(
        AuthService,
        createConnectTransport({ baseUrl: local.url, httpVersion: "1.1" }),
      ).whoAmI({});
      expect(who.authMode).toBe(AuthMode.LOCAL);
      expect(who.user).toMatchObject({ name: "local", role: UserRole.ADMIN });
    } finally {
      await local.close();
    }
  });
});

describe("local mode and DNS rebinding", () => {
  it("refuses a call addressed to another host name, even from this machine", async () => {
    const local = await startTestApp();
    try {
      // fetch will not send another Host; node:http will, as a browser after a rebinding does.
      const call = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request(
            `${local.url}/promptline.v1.AuthService/WhoAmI`,
            { method: "POST", headers: { "content-type": "application/json", host } },
            (res) => {
              let body = "";
              res.on("data", (chunk: Buffer) => {
                body += chunk.toString();
              });
              res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            },
          );
          req.on("error", reject);
          req.end("{}");
        });
      const rebound = await call("evil.example:8080");
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body)).toMatchObject({
        code: "permission_denied",
        message: expect.stringMatching(
          /^local mode answers only requests addressed to this machine/,
        ),
      });
      expect((await call(`localhost:${new URL(local.url).port}`)).status).toBe(200);
    } finally {
      await local.close();
    }
  });
});
