import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStatus } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./harness.js";
import { connectClient, settled, type TaskClient } from "./task-client.js";

let app: TestApp;
let client: TaskClient;

beforeAll(async () => {
  app = await startTestApp();
  client = connectClient(app.url);
});

afterAll(async () => {
  await app?.close();
});

/** A task that waits for a run_at a day ahead: pending until acted on. */
async function parked(name: string): Promise<string> {
  const { task } = await client.createTask({
    name,
    prompt: name,
    model: "simulator/echo",
    runAt: timestampFromMs(Date.now() + 24 * 3_600_000),
  });
  return task?.id ?? "";
}

const MISSING = "0190a5c8-0000-7000-8000-000000000000";

function outcomes(
  results: Array<{ id: string; errorCode: string; task?: { status: TaskStatus } }>,
) {
  return results.map((r) => [r.id, r.errorCode || (r.task?.status ?? "done")]);
}

async function invalid(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error?.code).toBe(Code.InvalidArgument);
  return error?.rawMessage ?? "";
}

describe("CancelTasks, RetryTasks, DeleteTasks", () => {
  it("act on each task, and report the ones that can't be acted on without stopping", async () => {
    const [a, b, c] = [await parked("bulk a"), await parked("bulk b"), await parked("bulk c")];
    const { task: done } = await client.createTask({
      prompt: "bulk done",
      model: "simulator/echo",
    });
    const finished = (await settled(client, done?.id ?? "")).id;

    const cancelled = await client.cancelTasks({ ids: [a, b, finished, MISSING] });
    expect(outcomes(cancelled.results)).toEqual([
      [a, TaskStatus.CANCELLED],
      [b, TaskStatus.CANCELLED],
      [finished, "failed_precondition"],
      [MISSING, "not_found"],
    ]);
    expect(cancelled.results[2]?.errorMessage).toMatch(/only pending, queued or running/);

    const retried = await client.retryTasks({ ids: [a, c] });
    expect(outcomes(retried.results)).toEqual([
      [a, TaskStatus.QUEUED],
      [c, "failed_precondition"],
    ]);
    expect((await settled(client, a)).status).toBe(TaskStatus.COMPLETED);

    const deleted = await client.deleteTasks({ ids: [b, finished, c] });
    expect(outcomes(deleted.results)).toEqual([
      [b, "done"],
      [finished, "done"],
      [c, "failed_precondition"],
    ]);
    for (const id of [b, finished]) {
      const gone = await client.getTask({ id }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e).code,
      );
      expect(gone).toBe(Code.NotFound);
    }
    expect((await client.getTask({ id: c })).task?.status).toBe(TaskStatus.PENDING);
  });

  it("refuse an empty, oversized, malformed or repeating list, naming the entry", async () => {
    expect(await invalid(client.cancelTasks({ ids: [] }))).toMatch(/^ids: must not be empty/);
    const many = Array.from({ length: 101 }, () => MISSING);
    expect(await invalid(client.retryTasks({ ids: many }))).toMatch(/^ids: must have at most 100/);
    expect(await invalid(client.deleteTasks({ ids: [MISSING, "nope"] }))).toMatch(/^ids\[1\]: /);
    expect(await invalid(client.cancelTasks({ ids: [MISSING, MISSING.toUpperCase()] }))).toMatch(
      /^ids\[1\]: repeats ids\[0\]/,
    );
  });
});
