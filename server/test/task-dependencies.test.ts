import { TaskStatus } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./harness.js";
import { connectClient, settled, type TaskClient } from "./task-client.js";

const ECHO = "simulator/echo";

let app: TestApp;
let client: TaskClient;

beforeAll(async () => {
  app = await startTestApp();
  client = connectClient(app.url);
});

afterAll(async () => {
  await app?.close();
});

/** A task's depends_on as [task id, name] pairs. */
function deps(
  task:
    | { dependsOn: Array<{ target: { case?: string; value?: unknown }; name: string }> }
    | undefined,
) {
  return task?.dependsOn.map((d) => [
    d.target.case === "taskId" ? d.target.value : d.target,
    d.name,
  ]);
}

describe("Task.depends_on in responses", () => {
  it("CreateTask, GetTask and every WatchTask message name the task's dependencies", async () => {
    // `a` waits an hour, so the task stays pending until it is cancelled below.
    const runAt = { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 };
    const a = (await client.createTask({ prompt: "a", model: ECHO, runAt })).task?.id ?? "";
    const b = (await client.createTask({ prompt: "b", model: ECHO })).task?.id ?? "";
    const { task: created } = await client.createTask({
      prompt: "{{deps.first.output}} and b",
      model: ECHO,
      dependsOn: [
        { target: { case: "taskId", value: b } },
        { target: { case: "taskId", value: a }, name: "first" },
      ],
    });
    const id = created?.id ?? "";
    // By name, an unnamed one last.
    const expected = [
      [a, "first"],
      [b, ""],
    ];
    expect(deps(created)).toEqual(expected);
    expect(deps((await client.getTask({ id })).task)).toEqual(expected);

    const seen: Array<[TaskStatus, unknown]> = [];
    for await (const message of client.watchTask({ id })) {
      if (message.event.case !== "task") continue;
      const task = message.event.value;
      seen.push([task.status, deps(task)]);
      if (task.status === TaskStatus.PENDING) await client.cancelTask({ id });
      if (task.status === TaskStatus.CANCELLED) break;
    }
    expect(seen).toEqual([
      [TaskStatus.PENDING, expected],
      [TaskStatus.CANCELLED, expected],
    ]);
    await client.cancelTask({ id: a });
  });

  it("BatchCreateTasks resolves refs to ids; a task without dependencies has none", async () => {
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "x", prompt: "ex", model: ECHO },
        {
          prompt: "after {{deps.up.output}}",
          model: ECHO,
          dependsOn: [{ target: { case: "ref", value: "x" }, name: "up" }],
        },
      ],
    });
    const [x, y] = tasks;
    expect(deps(x)).toEqual([]);
    expect(deps(y)).toEqual([[x?.id, "up"]]);
    expect(deps((await client.getTask({ id: y?.id ?? "" })).task)).toEqual([[x?.id, "up"]]);
  });

  it("lists a parent only when it was also named as a dependency", async () => {
    const parent = (await client.createTask({ prompt: "p", model: ECHO })).task?.id ?? "";
    await settled(client, parent);
    const { task: child } = await client.createTask({
      prompt: "child",
      model: ECHO,
      parentTaskId: parent,
    });
    expect(deps(child)).toEqual([]);
    const { task: named } = await client.createTask({
      prompt: "{{deps.p.output}}",
      model: ECHO,
      parentTaskId: parent,
      dependsOn: [{ target: { case: "taskId", value: parent }, name: "p" }],
    });
    expect(deps(named)).toEqual([[parent, "p"]]);
    expect(deps((await client.getTask({ id: named?.id ?? "" })).task)).toEqual([[parent, "p"]]);
  });

  it("ListTasks leaves depends_on empty: no read per listed task", async () => {
    const a = (await client.createTask({ prompt: "a", model: ECHO })).task?.id ?? "";
    const { task } = await client.createTask({
      prompt: "listed",
      model: ECHO,
      dependsOn: [{ target: { case: "taskId", value: a } }],
    });
    const { tasks } = await client.listTasks({ pageSize: 10 });
    const listed = tasks.find((t) => t.id === task?.id);
    expect(listed).toBeDefined();
    expect(deps(listed)).toEqual([]);
  });
});
