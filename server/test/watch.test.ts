import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  TaskService,
  TaskStatus,
  WatchTaskRequestSchema,
  type WatchTaskResponse,
  WatchTaskResponseSchema,
  WatchTasksResponse_Change,
} from "@promptline/proto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TASK_COLUMNS } from "../src/db/schema.js";
import { encodeStatus, eventsChannel } from "../src/events/messages.js";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";
import { grpcJsClient } from "./grpc-js-client.js";
import {
  type ChildProcessHandle,
  spawnPromptline,
  startTestApp,
  TEST_REDIS_URL,
  type TestApp,
  waitFor,
} from "./harness.js";

const LOREM = "simulator/lorem";
const STREAMING = "[[sim ttft=50 tps=100 tokens=40]] write";

function clientFor(
  url: string,
  protocol: "connect" | "grpc-web" = "connect",
): Client<typeof TaskService> {
  const transport =
    protocol === "connect"
      ? createConnectTransport({ baseUrl: url, httpVersion: "1.1" })
      : createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" });
  return createClient(TaskService, transport);
}

/** Reads a whole watch, checking the invariants every client relies on. */
async function readWatch(stream: AsyncIterable<WatchTaskResponse>) {
  const messages: WatchTaskResponse[] = [];
  let output = "";
  let deltasBeforeEnd = 0;
  for await (const message of stream) {
    messages.push(message);
    if (message.event.case === "output") {
      expect(Number(message.event.value.offset)).toBe(output.length);
      output += message.event.value.text;
      deltasBeforeEnd++;
    } else if (message.event.case === "task") {
      const task = message.event.value;
      if (messages.length === 1 || task.status === TaskStatus.COMPLETED)
        output = task.output || output;
    }
    expect(Number(message.outputOffset)).toBe(output.length);
  }
  const last = messages.at(-1);
  return {
    messages,
    output,
    deltasBeforeEnd,
    last: last?.event.case === "task" ? last.event.value : undefined,
  };
}

describe("WatchTask in one process", () => {
  let app: TestApp;
  let client: Client<typeof TaskService>;
  beforeAll(async () => {
    app = await startTestApp();
    client = clientFor(app.url);
  });
  afterAll(async () => app?.close());

  it("streams a snapshot, output deltas as they are written, and ends at the terminal state", async () => {
    const { task } = await client.createTask({ prompt: STREAMING, model: LOREM });
    const watch = await readWatch(client.watchTask({ id: task?.id ?? "" }));
    expect(watch.messages[0]?.event.case).toBe("task");
    expect(watch.deltasBeforeEnd).toBeGreaterThanOrEqual(2);
    expect(watch.last?.status).toBe(TaskStatus.COMPLETED);
    // The concatenated deltas are exactly what PostgreSQL stored.
    const stored = (await client.getTask({ id: task?.id ?? "" })).task?.output;
    expect(watch.output).toBe(stored);
    expect(stored?.split(" ").length).toBe(40);
  });

  it("gives a late watcher the output so far, and resumes a cut watch with no gap or duplicate", async () => {
    const { task } = await client.createTask({
      prompt: "[[sim ttft=20 tps=40 tokens=40]] write",
      model: LOREM,
    });
    const id = task?.id ?? "";
    // First watch: read until some output arrived, then hang up.
    const abort = new AbortController();
    let cursor = { seq: 0, attempt: 0, offset: 0n };
    let firstPart = "";
    try {
      for await (const message of client.watchTask({ id }, { signal: abort.signal })) {
        if (message.event.case === "output") firstPart += message.event.value.text;
        if (message.event.case === "task") firstPart = message.event.value.output;
        cursor = { seq: message.seq, attempt: message.outputAttempt, offset: message.outputOffset };
        if (firstPart.length > 20) abort.abort();
      }
    } catch (error) {
      expect(ConnectError.from(error).code).toBe(Code.Canceled);
    }
    expect(firstPart.length).toBeGreaterThan(20);
    // A late watcher sees what is written so far in its snapshot.
    const late = client.watchTask({ id })[Symbol.asyncIterator]();
    const snapshot = (await late.next()).value;
    expect(
      snapshot?.event.case === "task" &&
        snapshot.event.value.output.startsWith(firstPart.slice(0, 20)),
    ).toBe(true);
    await late.return?.();
    // Resume from the cursor: a task message first (no output: the client has it), then the rest, nothing twice.
    let resumedText = "";
    let first = true;
    for await (const message of client.watchTask({
      id,
      afterSeq: cursor.seq,
      outputAttempt: cursor.attempt,
      outputOffset: cursor.offset,
    })) {
      if (first) {
        expect(message.event.case).toBe("task");
        first = false;
      }
      if (message.event.case === "output") {
        expect(Number(message.event.value.offset)).toBe(Number(cursor.offset) + resumedText.length);
        resumedText += message.event.value.text;
      }
    }
    const stored = (await client.getTask({ id })).task?.output ?? "";
    expect(firstPart.slice(0, Number(cursor.offset)) + resumedText).toBe(stored);
  });

  it("shows the output so far in GetTask while the task runs (for clients that poll)", async () => {
    const { task } = await client.createTask({
      prompt: "[[sim ttft=20 tps=20 tokens=60]] write",
      model: LOREM,
    });
    const partial = await waitFor(async () => {
      const { task: t } = await client.getTask({ id: task?.id ?? "" });
      return t?.status === TaskStatus.RUNNING && t.output.length > 0 ? t.output : undefined;
    });
    const done = await waitFor(async () => {
      const { task: t } = await client.getTask({ id: task?.id ?? "" });
      return t?.status === TaskStatus.COMPLETED ? t : undefined;
    });
    expect(done.output.startsWith(partial)).toBe(true);
    expect(done.output.length).toBeGreaterThan(partial.length);
  });

  it("answers a finished task with one message, and an unknown one with NotFound", async () => {
    const { task } = await client.createTask({ prompt: "quick", model: "simulator/echo" });
    await waitFor(async () =>
      (await client.getTask({ id: task?.id ?? "" })).task?.status === TaskStatus.COMPLETED
        ? true
        : undefined,
    );
    const watch = await readWatch(client.watchTask({ id: task?.id ?? "" }));
    expect(watch.messages).toHaveLength(1);
    expect(watch.last?.output).toBe("Echo: quick");
    await expect(
      readWatch(client.watchTask({ id: "0190a5c8-0000-7000-8000-000000000000" })),
    ).rejects.toThrow(/not found/);
  });

  it("streams list changes matching a filter, with a heartbeat first", async () => {
    const abort = new AbortController();
    const seen: Array<[WatchTasksResponse_Change, TaskStatus | undefined]> = [];
    let createdId = "";
    const reading = (async () => {
      try {
        for await (const change of client.watchTasks({ model: LOREM }, { signal: abort.signal })) {
          seen.push([change.change, change.task?.status]);
          if (change.change === WatchTasksResponse_Change.UNSPECIFIED && createdId === "") {
            createdId =
              (await client.createTask({ prompt: "listed", model: LOREM })).task?.id ?? "";
            await client.createTask({ prompt: "not listed", model: "simulator/echo" });
          }
          if (change.task?.status === TaskStatus.COMPLETED) abort.abort();
        }
      } catch (error) {
        expect(ConnectError.from(error).code).toBe(Code.Canceled);
      }
    })();
    await reading;
    expect(seen[0]?.[0]).toBe(WatchTasksResponse_Change.UNSPECIFIED);
    const changes = seen.slice(1);
    // Each change carries the task as it is when the API read it, so "created" may already show it running.
    expect(changes[0]?.[0]).toBe(WatchTasksResponse_Change.CREATED);
    expect(changes.at(-1)).toEqual([WatchTasksResponse_Change.UPDATED, TaskStatus.COMPLETED]);
  });

  it("sends each change as committed: the streamed task equals GetTask's, whether its row travelled with the change or was too large and read back", async () => {
    // About 40 KB of prompt: above what a change may carry, so watchers read the row.
    const large = `${"many words ".repeat(3_700)}end`;
    for (const prompt of ["small", large]) {
      const { task } = await client.createTask({ prompt, model: "simulator/echo" });
      const watch = await readWatch(client.watchTask({ id: task?.id ?? "" }));
      expect(watch.last?.status).toBe(TaskStatus.COMPLETED);
      const stored = (await client.getTask({ id: task?.id ?? "" })).task;
      expect(watch.last).toEqual(stored);
    }
  });

  it("never sends a list stream back to an older state, nor one change twice, when changes arrive out of order", async () => {
    const { task } = await client.createTask({ prompt: "in order", model: "simulator/echo" });
    const id = task?.id ?? "";
    await waitFor(async () =>
      (await client.getTask({ id })).task?.status === TaskStatus.COMPLETED ? true : undefined,
    );
    const [row] = await app.db
      .selectFrom("tasks")
      .select(TASK_COLUMNS)
      .where("id", "=", id)
      .execute();
    if (row === undefined) throw new Error("task row missing");
    const redis = new Redis(TEST_REDIS_URL);
    const publish = (message: string) => redis.publish(eventsChannel(app.queuePrefix), message);
    const abort = new AbortController();
    const seen: Array<[TaskStatus, string]> = [];
    const reading = (async () => {
      try {
        for await (const change of client.watchTasks({}, { signal: abort.signal })) {
          // Live: the completed row; once it is through, a late one with the row as created.
          if (change.change === WatchTasksResponse_Change.UNSPECIFIED) {
            await publish(encodeStatus(row, "u", Date.now()));
            continue;
          }
          if (change.task?.id !== id) continue;
          seen.push([change.task.status, change.task.name]);
          if (seen.length === 1) {
            // An older change, the same one again, then (made up) a newer one.
            await publish(encodeStatus({ ...row, status: "pending", seq: 1 }, "c", Date.now()));
            await publish(encodeStatus(row, "u", Date.now()));
            // One connection keeps the order: the newer one comes after both.
            await publish(
              encodeStatus({ ...row, seq: row.seq + 1, name: "newer" }, "u", Date.now()),
            );
          } else abort.abort();
        }
      } catch (error) {
        expect(ConnectError.from(error).code).toBe(Code.Canceled);
      } finally {
        redis.disconnect();
      }
    })();
    await reading;
    expect(seen).toEqual([
      [TaskStatus.COMPLETED, ""],
      [TaskStatus.COMPLETED, "newer"],
    ]);
  });

  it("streams only a chain's changes with chain_id, and names a bad one", async () => {
    const base = { model: "simulator/echo", runAt: timestampFromMs(Date.now() + 86_400_000) };
    const root = (await client.createTask({ ...base, prompt: "root" })).task?.id ?? "";
    const child = (await client.createTask({ ...base, prompt: "child", parentTaskId: root })).task;
    const chainId = child?.chainId ?? "";
    expect(chainId).not.toBe("");
    const abort = new AbortController();
    const seen: string[] = [];
    let sibling = "";
    try {
      for await (const change of client.watchTasks({ chainId }, { signal: abort.signal })) {
        if (change.change === WatchTasksResponse_Change.UNSPECIFIED && sibling === "") {
          await client.createTask({ ...base, prompt: "elsewhere" });
          sibling =
            (await client.createTask({ ...base, prompt: "sibling", parentTaskId: root })).task
              ?.id ?? "";
        }
        if (change.task !== undefined) seen.push(change.task.id);
        if (change.task?.id === sibling) abort.abort();
      }
    } catch (error) {
      expect(ConnectError.from(error).code).toBe(Code.Canceled);
    }
    expect(seen).toEqual([sibling]);
    const bad = client.watchTasks({ chainId: "nope" })[Symbol.asyncIterator]().next();
    await expect(bad).rejects.toThrow(/chain_id: must be a chain id/);
  });

  it("cleans up: 1,000 watches opened and closed leave no subscriber behind", async () => {
    const { task } = await client.createTask({ prompt: "[[sim ttft=20000]] long", model: LOREM });
    const id = task?.id ?? "";
    const grpcWeb = clientFor(app.url, "grpc-web");
    for (let round = 0; round < 5; round++) {
      const aborts = Array.from({ length: 200 }, () => new AbortController());
      const streams = aborts.map(async (abort, i) => {
        const c = i % 2 === 0 ? client : grpcWeb;
        try {
          for await (const _ of c.watchTask({ id }, { signal: abort.signal })) abort.abort();
        } catch {
          // Cancelled by us.
        }
      });
      await Promise.all(streams);
    }
    await waitFor(async () => (app.watchers() === 0 ? true : undefined), {
      what: "all watchers to be gone",
    });
    await client.cancelTask({ id });
  }, 60_000);

  it("lets a @grpc/grpc-js client watch over HTTP/2, with its deadline honoured", async () => {
    const grpcClient = grpcJsClient(app.url);
    const method = TaskService.method.watchTask;
    const watch = (id: string, deadline?: Date) =>
      new Promise<{ messages: WatchTaskResponse[]; error?: grpc.ServiceError }>((resolve) => {
        const messages: WatchTaskResponse[] = [];
        const call = grpcClient.makeServerStreamRequest(
          `/${TaskService.typeName}/${method.name}`,
          (m: ReturnType<typeof create<typeof WatchTaskRequestSchema>>) =>
            Buffer.from(toBinary(WatchTaskRequestSchema, m)),
          (b: Buffer) => fromBinary(WatchTaskResponseSchema, b),
          create(WatchTaskRequestSchema, { id }),
          new grpc.Metadata(),
          deadline === undefined ? {} : { deadline },
        );
        call.on("data", (m: WatchTaskResponse) => messages.push(m));
        call.on("error", (error: grpc.ServiceError) => resolve({ messages, error }));
        call.on("end", () => resolve({ messages }));
      });
    try {
      const { task } = await client.createTask({ prompt: STREAMING, model: LOREM });
      const full = await watch(task?.id ?? "");
      expect(full.error).toBeUndefined();
      expect(full.messages.filter((m) => m.event.case === "output").length).toBeGreaterThanOrEqual(
        2,
      );
      const last = full.messages.at(-1);
      expect(last?.event.case === "task" && last.event.value.status).toBe(TaskStatus.COMPLETED);

      const { task: slow } = await client.createTask({
        prompt: "[[sim ttft=5000]] slow",
        model: LOREM,
      });
      const started = Date.now();
      const cut = await watch(slow?.id ?? "", new Date(Date.now() + 300));
      expect(cut.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(2_000);
      await client.cancelTask({ id: slow?.id ?? "" });
    } finally {
      grpcClient.close();
    }
  });
});

describe("WatchTask across processes", () => {
  let simulator: Simulator;
  let apiA: TestApp;
  let apiB: ChildProcessHandle;
  let worker: ChildProcessHandle;
  beforeAll(async () => {
    simulator = await startSimulator({ port: 0 });
    apiA = await startTestApp({ PROMPTLINE_ROLE: "api", SIMULATOR_URL: simulator.url });
    const env = {
      DATABASE_URL: apiA.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: apiA.queuePrefix,
      SIMULATOR_URL: simulator.url,
      PORT: "0",
    };
    [apiB, worker] = await Promise.all([
      spawnPromptline("api", env),
      spawnPromptline("worker", env),
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const child of [apiB, worker]) {
      child?.kill("SIGTERM");
      await child?.exited;
    }
    await apiA?.close();
    await simulator?.close();
  });

  it("streams output to a watcher on one API process for a task created on another and run by a third", async () => {
    const a = clientFor(apiA.url);
    const b = clientFor(apiB.url ?? "");
    const { task } = await a.createTask({ prompt: STREAMING, model: LOREM });
    const watch = await readWatch(b.watchTask({ id: task?.id ?? "" }));
    expect(watch.deltasBeforeEnd).toBeGreaterThanOrEqual(2);
    expect(watch.last?.status).toBe(TaskStatus.COMPLETED);
    expect(watch.output).toBe((await a.getTask({ id: task?.id ?? "" })).task?.output);
  }, 30_000);
});
