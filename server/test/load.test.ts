import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService } from "@promptline/proto";
import { sql } from "kysely";
import { expect, it } from "vitest";
import { startTestApp, waitFor } from "./harness.js";

const TASKS = 10_000;
const BATCH = 100;

it(`runs ${TASKS} tasks: every one completes once, with one result`, async () => {
  const app = await startTestApp({ WORKER_CONCURRENCY: "64" });
  try {
    const client = createClient(
      TaskService,
      createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
    );
    const batches = Array.from({ length: TASKS / BATCH }, (_, b) =>
      Array.from({ length: BATCH }, (_, i) => ({
        prompt: `load ${b * BATCH + i}`,
        model: "simulator/echo",
      })),
    );
    // Four batches in flight at a time: creation overlaps with execution, as in real use.
    for (let i = 0; i < batches.length; i += 4) {
      await Promise.all(batches.slice(i, i + 4).map((tasks) => client.batchCreateTasks({ tasks })));
    }
    await waitFor(
      async () => {
        const { rows } = await sql<{ n: number }>`
          select count(*)::int as n from tasks where status = 'completed'`.execute(app.db);
        return rows[0]?.n === TASKS ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `${TASKS} tasks to complete` },
    );
    const { rows } = await sql<{
      tasks: number;
      attempts: number;
      succeeded: number;
      distinct_outputs: number;
      bad: number;
    }>`
      select
        (select count(*)::int from tasks) as tasks,
        (select count(*)::int from task_attempts) as attempts,
        (select count(*)::int from task_attempts where outcome = 'succeeded') as succeeded,
        (select count(distinct output)::int from tasks) as distinct_outputs,
        (select count(*)::int from tasks where output <> 'Echo: ' || prompt) as bad`.execute(
      app.db,
    );
    expect(rows[0]).toEqual({
      tasks: TASKS,
      attempts: TASKS,
      succeeded: TASKS,
      distinct_outputs: TASKS,
      bad: 0,
    });
  } finally {
    await app.close();
  }
}, 180_000);
