import { randomUUID } from "node:crypto";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService, TaskService, TaskStatus } from "@promptline/proto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { sql } from "kysely";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAINTENANCE_QUEUE_NAME, startMaintenance } from "../src/queue/maintenance.js";
import { Retention } from "../src/tasks/retention.js";
import { deleteRedisKeys, startTestApp, TEST_REDIS_URL, type TestApp, waitFor } from "./harness.js";

const ECHO = "simulator/echo";
const terminal = new Set([TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED]);

function clients(app: TestApp) {
  const transport = createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" });
  return {
    tasks: createClient(TaskService, transport),
    admin: createClient(AdminService, transport),
  };
}

async function settle(tasks: Client<typeof TaskService>, ids: string[]): Promise<void> {
  for (const id of ids) {
    await waitFor(
      async () => {
        const { task } = await tasks.getTask({ id });
        return task !== undefined && terminal.has(task.status) ? true : undefined;
      },
      { what: `task ${id} to finish` },
    );
  }
}

async function createAll(tasks: Client<typeof TaskService>, prompts: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const prompt of prompts) {
    const { task } = await tasks.createTask({ prompt, model: ECHO });
    ids.push(task?.id ?? "");
  }
  return ids;
}

/** The maintenance queue of a prefix, as an operator would inspect it. */
function maintenanceQueue(prefix: string) {
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(MAINTENANCE_QUEUE_NAME, { connection, prefix });
  return {
    queue,
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return ConnectError.from(error);
}

describe("Retention", () => {
  let app: TestApp;
  let tasks: Client<typeof TaskService>;
  let admin: Client<typeof AdminService>;

  beforeAll(async () => {
    // Scheduled too, with a horizon none of the rows below reaches, so the
    // run at start cannot race the explicit ones.
    app = await startTestApp({ RETENTION_DAYS: "3650" });
    ({ tasks, admin } = clients(app));
  });
  afterAll(async () => {
    await app?.close();
  });

  /** Inserts finished tasks straight into the table, `daysAgo` old. */
  async function insertFinished(
    status: "completed" | "failed" | "cancelled",
    daysAgo: number,
    count: number,
  ): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`
      insert into tasks (id, prompt, model, status, completed_at)
      select gen_random_uuid(), 'old ' || i, ${ECHO}, ${status}::task_status,
             now() - make_interval(days => ${daysAgo})
      from generate_series(1, ${count}) i
      returning id
    `.execute(app.db);
    return rows.map((r) => r.id);
  }

  async function existing(ids: string[]): Promise<number> {
    const { rows } = await sql<{ n: number }>`
      select count(*) as n from tasks where id = any(${ids}::uuid[])
    `.execute(app.db);
    return rows[0]?.n ?? -1;
  }

  it("is scheduled on the maintenance queue when RETENTION_DAYS is set", async () => {
    const { queue, close } = maintenanceQueue(app.queuePrefix);
    try {
      const scheduler = await queue.getJobScheduler("retention");
      expect(scheduler?.every).toBe(60 * 60 * 1000);
      // The first run happens at once; it finds nothing that old.
      await waitFor(async () => ((await queue.getCompletedCount()) >= 1 ? true : undefined), {
        what: "the first scheduled retention run",
      });
    } finally {
      await close();
    }
  });

  it("deletes completed tasks older than N days in batches, and nothing else", async () => {
    // Real tasks, with attempts and events, made old.
    const ran = await createAll(tasks, ["to be forgotten", "also forgotten"]);
    await settle(tasks, ran);
    await sql`update tasks set completed_at = now() - interval '40 days' where id = any(${ran}::uuid[])`.execute(
      app.db,
    );
    const oldCompleted = await insertFinished("completed", 31, 2_345);
    const oldFailed = await insertFinished("failed", 400, 3);
    const oldCancelled = await insertFinished("cancelled", 400, 3);
    const recentCompleted = await insertFinished("completed", 29, 4);

    // An old parent whose child is recent: the child stays, its link goes.
    const [parent = ""] = await insertFinished("completed", 60, 1);
    const { task: child } = await tasks.createTask({
      prompt: "child",
      model: ECHO,
      parentTaskId: parent,
    });
    await settle(tasks, [child?.id ?? ""]);
    // An old parent whose output a pending dependent still needs: kept.
    const [needed = ""] = await insertFinished("completed", 60, 1);
    await sql`
      insert into tasks (id, prompt, model, status, parent_task_id, run_at)
      values (gen_random_uuid(), '{{parent.output}}', ${ECHO}, 'pending', ${needed},
              now() + interval '20 days')
    `.execute(app.db);

    const { deleted } = await admin.runRetention({ olderThanDays: 30 });
    expect(deleted).toBe(BigInt(ran.length + oldCompleted.length + 1));

    expect(await existing([...ran, ...oldCompleted, parent])).toBe(0);
    expect(await existing(oldFailed)).toBe(3);
    expect(await existing(oldCancelled)).toBe(3);
    expect(await existing(recentCompleted)).toBe(4);
    expect(await existing([needed])).toBe(1);
    const { task: orphan } = await tasks.getTask({ id: child?.id ?? "" });
    expect(orphan?.status).toBe(TaskStatus.COMPLETED);
    expect(orphan?.parentTaskId).toBeUndefined();
    const { rows: leftovers } = await sql<{ n: number }>`
      select (select count(*) from task_attempts where task_id = any(${ran}::uuid[]))
           + (select count(*) from task_events where task_id = any(${ran}::uuid[])) as n
    `.execute(app.db);
    expect(leftovers[0]?.n).toBe(0);

    // Run again: nothing left to delete.
    expect((await admin.runRetention({ olderThanDays: 30 })).deleted).toBe(0n);
  });

  it("adds up batches smaller than the backlog", async () => {
    const old = await insertFinished("completed", 100, 25);
    const retention = new Retention({ db: app.db, log: pino({ level: "silent" }), batchSize: 7 });
    expect(await retention.run(99)).toBe(25);
    expect(await existing(old)).toBe(0);
  });

  it("refuses older_than_days outside 1-3650, naming the field", async () => {
    for (const olderThanDays of [0, -1, 3651]) {
      const error = await rejection(admin.runRetention({ olderThanDays }));
      expect(Code[error.code]).toBe(Code[Code.InvalidArgument]);
      expect(error.rawMessage).toBe("older_than_days: must be from 1 to 3650");
    }
  });
});

describe("maintenance scheduler", () => {
  it("runs a job once per period however many processes start it", async () => {
    const prefix = `pt-${randomUUID().slice(0, 12)}`;
    let runs = 0;
    const start = () =>
      startMaintenance({
        redisUrl: TEST_REDIS_URL,
        prefix,
        retention: {
          everyMs: 150,
          run: async () => {
            runs += 1;
            return 0;
          },
        },
      });
    const { queue, close } = maintenanceQueue(prefix);
    try {
      const instances = [await start(), await start()];
      try {
        await waitFor(async () => (runs >= 4 ? true : undefined), { what: "four runs" });
      } finally {
        await Promise.all(instances.map((m) => m.close()));
      }
      const done = await queue.getJobs(["completed", "failed"]);
      expect(done.every((job) => job.id?.startsWith("repeat:retention:"))).toBe(true);
      expect(new Set(done.map((job) => job.id)).size).toBe(done.length);
      expect(runs).toBe(done.length);
    } finally {
      await close();
      await deleteRedisKeys(prefix);
    }
  });

  it("removes the schedule when retention is switched off", async () => {
    const prefix = `pt-${randomUUID().slice(0, 12)}`;
    const { queue, close } = maintenanceQueue(prefix);
    try {
      const on = await startMaintenance({
        redisUrl: TEST_REDIS_URL,
        prefix,
        retention: { everyMs: 60_000, run: async () => 0 },
      });
      await on.close();
      expect(await queue.getJobScheduler("retention")).toBeDefined();
      const off = await startMaintenance({
        redisUrl: TEST_REDIS_URL,
        prefix,
        retention: undefined,
      });
      await off.close();
      expect(await queue.getJobScheduler("retention")).toBeUndefined();
    } finally {
      await close();
      await deleteRedisKeys(prefix);
    }
  });
});
