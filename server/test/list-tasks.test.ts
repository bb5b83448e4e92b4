import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { TimestampSchema, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  type ListTasksRequestSchema,
  type Task,
  TaskPriority,
  TaskService,
  TaskSort,
  TaskStatus,
} from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./harness.js";

type ListRequest = MessageInitShape<typeof ListTasksRequestSchema>;

let app: TestApp;
let client: Client<typeof TaskService>;
const marker = `sortme${Date.now()}`;
/** In creation order; the first and fourth are cancelled, the rest wait for their run_at. */
let tasks: Task[] = [];

const PRIORITIES = [
  TaskPriority.LOW,
  TaskPriority.HIGH,
  TaskPriority.CRITICAL,
  TaskPriority.NORMAL,
  TaskPriority.HIGH,
];

beforeAll(async () => {
  app = await startTestApp();
  client = createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
  // A run_at a day ahead keeps them pending: nothing changes under the assertions.
  const runAt = timestampFromMs(Date.now() + 24 * 3_600_000);
  for (const [i, priority] of PRIORITIES.entries()) {
    const { task } = await client.createTask({
      name: `sorted ${i}`,
      prompt: `${marker} ${i}`,
      model: "simulator/echo",
      priority,
      runAt,
    });
    if (task === undefined) throw new Error("no task");
    tasks.push(task);
  }
  for (const i of [0, 3]) await client.cancelTask({ id: tasks[i]?.id ?? "" });
  tasks = await Promise.all(tasks.map(async (t) => (await client.getTask({ id: t.id })).task ?? t));
});

afterAll(async () => {
  await app?.close();
});

/** Every page of a list, in order, with the page size small enough to cross pages. */
async function allPages(req: ListRequest): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await client.listTasks({ ...req, query: marker, pageSize: 2, pageToken });
    ids.push(...page.tasks.map((t) => t.id));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

const idsOf = (...indexes: number[]) => indexes.map((i) => tasks[i]?.id);

async function expectInvalid(req: ListRequest, field: RegExp) {
  const error = await client.listTasks(req).then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error?.code).toBe(Code.InvalidArgument);
  expect(error?.rawMessage).toMatch(field);
}

describe("ListTasks orders, date range and status counts", () => {
  it("pages through each sort order with a cursor that keeps to it", async () => {
    expect(await allPages({})).toEqual(idsOf(4, 3, 2, 1, 0));
    expect(await allPages({ sort: TaskSort.NEWEST_FIRST })).toEqual(idsOf(4, 3, 2, 1, 0));
    expect(await allPages({ sort: TaskSort.OLDEST_FIRST })).toEqual(idsOf(0, 1, 2, 3, 4));
    // Critical first; equal priorities newest first.
    expect(await allPages({ sort: TaskSort.PRIORITY })).toEqual(idsOf(2, 4, 1, 3, 0));
    // Pending before cancelled, newest first within each.
    expect(await allPages({ sort: TaskSort.STATUS })).toEqual(idsOf(4, 2, 1, 3, 0));
    expect(await allPages({ sort: TaskSort.PRIORITY, statuses: [TaskStatus.PENDING] })).toEqual(
      idsOf(2, 4, 1),
    );
  });

  it("filters by creation time: from inclusive, until exclusive", async () => {
    const created = (i: number) => timestampMs(tasks[i]?.createdAt ?? timestampFromMs(0));
    expect(await allPages({ createdAfter: timestampFromMs(created(2)) })).toEqual(idsOf(4, 3, 2));
    expect(await allPages({ createdBefore: timestampFromMs(created(2)) })).toEqual(idsOf(1, 0));
    expect(
      await allPages({
        createdAfter: timestampFromMs(created(1)),
        createdBefore: timestampFromMs(created(3)),
      }),
    ).toEqual(idsOf(2, 1));
  });

  it("counts the matching tasks per status, whatever statuses are picked, when asked", async () => {
    const first = await client.listTasks({
      query: marker,
      statuses: [TaskStatus.CANCELLED],
      pageSize: 1,
      includeStatusCounts: true,
    });
    expect(first.tasks.map((t) => t.id)).toEqual(idsOf(3));
    const counts = Object.fromEntries(first.statusCounts.map((c) => [c.status, c.count]));
    expect(counts).toEqual({ [TaskStatus.PENDING]: 3n, [TaskStatus.CANCELLED]: 2n });
    // Not asked: not counted.
    const second = await client.listTasks({
      query: marker,
      statuses: [TaskStatus.CANCELLED],
      pageSize: 1,
      pageToken: first.nextPageToken,
    });
    expect(second.tasks.map((t) => t.id)).toEqual(idsOf(0));
    expect(second.statusCounts).toEqual([]);

    const high = await client.listTasks({
      query: marker,
      priority: TaskPriority.HIGH,
      includeStatusCounts: true,
    });
    expect(high.statusCounts.map((c) => [c.status, c.count])).toEqual([[TaskStatus.PENDING, 2n]]);
  });

  it("filters by metadata pairs, all of which a task must have", async () => {
    const tag = `meta${Date.now()}`;
    const made = async (metadata: Record<string, string>) =>
      (await client.createTask({ prompt: tag, model: "simulator/echo", metadata })).task?.id;
    const redSearch = await made({ team: "red", area: "search" });
    const redBilling = await made({ team: "red", area: "billing" });
    await made({ team: "blue", area: "search" });
    const ids = async (metadata: Record<string, string>) =>
      (await client.listTasks({ query: tag, metadata })).tasks.map((t) => t.id);
    expect(await ids({ team: "red" })).toEqual([redBilling, redSearch]);
    expect(await ids({ team: "red", area: "search" })).toEqual([redSearch]);
    expect(await ids({ team: "green" })).toEqual([]);
    const counted = await client.listTasks({
      query: tag,
      metadata: { area: "search" },
      includeStatusCounts: true,
    });
    expect(counted.statusCounts.reduce((n, c) => n + Number(c.count), 0)).toBe(2);
    await expectInvalid({ metadata: { "bad key": "x" } }, /^metadata: key "bad key"/);
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"]));
    await expectInvalid({ metadata: nine }, /^metadata: must have at most 8 pairs/);
  });

  it("filters by chain_id: the parent-linked chain, not a task joined only by depends_on", async () => {
    const runAt = timestampFromMs(Date.now() + 24 * 3_600_000);
    const base = { model: "simulator/echo", runAt };
    const root = (await client.createTask({ ...base, prompt: "chain root" })).task;
    const child = (await client.createTask({ ...base, prompt: "child", parentTaskId: root?.id }))
      .task;
    const waiter = (
      await client.createTask({
        ...base,
        prompt: "waits on the child only",
        dependsOn: [{ target: { case: "taskId", value: child?.id ?? "" } }],
      })
    ).task;
    const chainId = child?.chainId ?? "";
    expect(chainId).not.toBe("");
    expect(waiter?.chainId).toBe("");
    const listed = await client.listTasks({ chainId: chainId.toUpperCase() });
    expect(listed.tasks.map((t) => t.id).sort()).toEqual([root?.id, child?.id].sort());
    // Combined with the other filters like any of them.
    const byParent = await client.listTasks({ chainId, parentTaskId: root?.id });
    expect(byParent.tasks.map((t) => t.id)).toEqual([child?.id]);
    await expectInvalid({ chainId: "nope" }, /^chain_id: must be a chain id/);
  });

  it("refuses a bad sort, range or a token made for another order, naming the field", async () => {
    const page = await client.listTasks({ query: marker, pageSize: 1, sort: TaskSort.PRIORITY });
    await expectInvalid(
      { query: marker, pageSize: 1, pageToken: page.nextPageToken, sort: TaskSort.STATUS },
      /^page_token: was made for another sort order/,
    );
    await expectInvalid({ sort: 99 as TaskSort }, /^sort: /);
    const now = timestampFromMs(Date.now());
    await expectInvalid({ createdAfter: now, createdBefore: now }, /^created_before: /);
    await expectInvalid(
      { createdAfter: create(TimestampSchema, { seconds: 0n, nanos: -1 }) },
      /^created_after: /,
    );
  });
});
