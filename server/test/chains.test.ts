import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService, TaskStatus } from "@promptline/proto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp, waitFor } from "./harness.js";
import { settled } from "./task-client.js";

const ECHO = "simulator/echo";
let app: TestApp;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  app = await startTestApp({ RETRY_BASE_MS: "10", RETRY_MAX_MS: "20" });
  client = createClient(
    TaskService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
  );
});
afterAll(async () => app?.close());

describe("chains created in one call", () => {
  it("runs a three-step chain in order, each output passed into the next prompt", async () => {
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "a", prompt: "one", model: ECHO },
        { ref: "b", parentRef: "a", prompt: "two after {{parent.output}}", model: ECHO },
        { parentRef: "b", prompt: "three after {{parent.output}}", model: ECHO },
      ],
    });
    expect(tasks.map((t) => t.status)).toEqual([
      TaskStatus.QUEUED,
      TaskStatus.PENDING,
      TaskStatus.PENDING,
    ]);
    const [a, b, c] = await Promise.all(tasks.map((t) => settled(client, t.id)));
    expect(a?.output).toBe("Echo: one");
    expect(b?.output).toBe("Echo: two after Echo: one");
    expect(c?.output).toBe("Echo: three after Echo: two after Echo: one");
    expect(c?.renderedPrompt).toBe("three after Echo: two after Echo: one");
    expect((b?.startedAt?.seconds ?? 0n) >= (a?.completedAt?.seconds ?? 0n)).toBe(true);
  });

  it("fans in named dependencies and vars", async () => {
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "x", prompt: "ex", model: ECHO },
        { ref: "y", prompt: "why", model: ECHO },
        {
          prompt: "{{vars.lead}}: {{deps.first.output}} + {{deps.second.output}}",
          model: ECHO,
          vars: { lead: "both" },
          dependsOn: [
            { target: { case: "ref", value: "x" }, name: "first" },
            { target: { case: "ref", value: "y" }, name: "second" },
          ],
        },
      ],
    });
    const joined = await settled(client, tasks[2]?.id ?? "");
    expect(joined.output).toBe("Echo: both: Echo: ex + Echo: why");
  });

  it("cancels the rest of the chain when a middle step fails, and retry-from-node completes it", async () => {
    const key = crypto.randomUUID();
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "a", prompt: "first", model: ECHO },
        // Fails once (400, not retried), then succeeds when retried.
        {
          ref: "b",
          parentRef: "a",
          prompt: `[[sim status=400 warmup=1 key=${key}]] middle {{parent.output}}`,
          model: ECHO,
        },
        { parentRef: "b", prompt: "last {{parent.output}}", model: ECHO },
      ],
    });
    const [, middle, last] = tasks;
    expect((await settled(client, middle?.id ?? "")).status).toBe(TaskStatus.FAILED);
    const cancelled = await settled(client, last?.id ?? "");
    expect(cancelled.status).toBe(TaskStatus.CANCELLED);
    expect(cancelled.error?.code).toBe("UPSTREAM_FAILED");
    expect(cancelled.error?.message).toContain(middle?.id);

    const retried = await client.retryFromTask({ id: middle?.id ?? "" });
    expect(retried.tasks.map((t) => t.id)).toEqual([middle?.id, last?.id]);
    const done = await settled(client, last?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.output).toBe("Echo: last Echo: middle Echo: first");
  });

  it("rejects cycles, unknown references and unknown upstream tasks", async () => {
    await expect(
      client.batchCreateTasks({
        tasks: [
          { ref: "a", parentRef: "b", prompt: "x", model: ECHO },
          { ref: "b", parentRef: "a", prompt: "y", model: ECHO },
        ],
      }),
    ).rejects.toThrow(/cycle/);
    await expect(client.createTask({ prompt: "{{parent.output}}", model: ECHO })).rejects.toThrow(
      /prompt: uses \{\{parent.output\}\} but the task has no parent/,
    );
    await expect(
      client.createTask({ prompt: "{{deps.nope.output}}", model: ECHO }),
    ).rejects.toThrow(/no dependency is named nope/);
    await expect(client.createTask({ prompt: "{{whatever}}", model: ECHO })).rejects.toThrow(
      /unknown reference/,
    );
    await expect(
      client.createTask({
        prompt: "x",
        model: ECHO,
        dependsOn: [{ target: { case: "taskId", value: "0190a5c8-0000-7000-8000-000000000000" } }],
      }),
    ).rejects.toThrow(/depends_on\[0\].task_id: task .* does not exist/);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from tasks where prompt in ('x', 'y')`.execute(app.db);
    expect(rows[0]?.n).toBe(0);
  });

  it("runs a 100-step chain and a 50-way fan-in", async () => {
    const chain = await client.batchCreateTasks({
      tasks: Array.from({ length: 100 }, (_, i) => ({
        ref: `s${i}`,
        ...(i === 0 ? {} : { parentRef: `s${i - 1}` }),
        prompt: `step ${i}`,
        model: ECHO,
      })),
    });
    const leaves = await client.batchCreateTasks({
      tasks: Array.from({ length: 50 }, (_, i) => ({ prompt: `leaf ${i}`, model: ECHO })),
    });
    const { task: fanIn } = await client.createTask({
      prompt: "all done",
      model: ECHO,
      dependsOn: leaves.tasks.map((t) => ({ target: { case: "taskId" as const, value: t.id } })),
    });
    const last = await settled(client, chain.tasks[99]?.id ?? "", 60_000);
    expect(last.status).toBe(TaskStatus.COMPLETED);
    const joined = await settled(client, fanIn?.id ?? "");
    expect(joined.status).toBe(TaskStatus.COMPLETED);
    const { rows } = await sql<{ late: number }>`
      select count(*)::int as late from tasks leaf
      where leaf.id = any(${leaves.tasks.map((t) => t.id)}::uuid[])
        and leaf.completed_at > (select started_at from tasks where id = ${fanIn?.id ?? ""})`.execute(
      app.db,
    );
    expect(rows[0]?.late).toBe(0);
  }, 90_000);
});

describe("lineage and chain operations", () => {
  it("returns ancestors, descendants and totals; cancels a whole chain; re-runs a node as a branch", async () => {
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "root", prompt: "root", model: ECHO },
        { ref: "mid", parentRef: "root", prompt: "mid {{parent.output}}", model: ECHO },
        { parentRef: "mid", prompt: "[[sim ttft=20000]] slow leaf", model: ECHO },
      ],
    });
    const [root, mid, leaf] = tasks;
    await settled(client, mid?.id ?? "");
    const lineage = await client.getTaskLineage({ id: mid?.id ?? "" });
    expect(new Set(lineage.tasks.map((t) => t.id))).toEqual(new Set([root?.id, mid?.id, leaf?.id]));
    expect(lineage.edges.map((e) => [e.parentId, e.childId, e.kind, e.depth])).toEqual(
      expect.arrayContaining([
        [root?.id, mid?.id, "derived", -1],
        [mid?.id, leaf?.id, "derived", 1],
      ]),
    );
    expect(lineage.totals?.tasks).toBe(3);
    expect(Number(lineage.totals?.completionTokens)).toBeGreaterThan(0);

    const branch = await client.rerunTask({
      id: mid?.id ?? "",
      prompt: "mid again {{parent.output}}",
    });
    expect(branch.task?.parentTaskId).toBe(root?.id);
    expect((await settled(client, branch.task?.id ?? "")).output).toBe(
      "Echo: mid again Echo: root",
    );

    await waitFor(async () =>
      (await client.getTask({ id: leaf?.id ?? "" })).task?.status === TaskStatus.RUNNING
        ? true
        : undefined,
    );
    const cancelled = await client.cancelChain({ taskId: root?.id ?? "" });
    expect(cancelled.tasks.map((t) => t.id)).toContain(leaf?.id);
    expect((await settled(client, leaf?.id ?? "", 5_000)).status).toBe(TaskStatus.CANCELLED);
  });

  it("keeps parent_task_id and edges in step when written through plain SQL", async () => {
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "p", prompt: "p", model: ECHO },
        { prompt: "c", model: ECHO },
      ],
    });
    const [p, c] = tasks;
    await sql`update tasks set parent_task_id = ${p?.id ?? ""} where id = ${c?.id ?? ""}`.execute(
      app.db,
    );
    const { rows } = await sql<{ kind: string }>`
      select kind from task_chain_edges where parent_id = ${p?.id ?? ""} and child_id = ${c?.id ?? ""}`.execute(
      app.db,
    );
    expect(rows).toEqual([{ kind: "derived" }]);
    const lineage = await client.getTaskLineage({ id: c?.id ?? "" });
    expect(lineage.edges.map((e) => e.parentId)).toEqual([p?.id]);
  });
});
