import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStatus } from "@promptline/proto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { CuttableProxy, DisposableRedis } from "./fault-tools.js";
import { startTestApp, waitFor } from "./harness.js";
import { connectClient, settled } from "./task-client.js";

const MODEL = "simulator/echo";
describe("provider faults end each task in the right state", () => {
  it("handles garbage, timeouts and cut streams", async () => {
    const app = await startTestApp({
      RETRY_BASE_MS: "10",
      RETRY_MAX_MS: "50",
      TASK_TIMEOUT_MS: "1000",
    });
    try {
      const client = connectClient(app.url);
      const create = async (prompt: string) =>
        (await client.createTask({ prompt, model: MODEL })).task?.id ?? "";
      const [garbage, hang, cutEarly, cutLate] = await Promise.all([
        create("[[sim malformed]] x"),
        create("[[sim hang]] x"),
        create("[[sim drop_after=0]] x"),
        create("[[sim drop_after=2 tokens=10]] x"),
      ]);
      const malformed = await settled(client, garbage);
      expect([malformed.status, malformed.error?.code, malformed.attempts]).toEqual([
        TaskStatus.FAILED,
        "PROVIDER_BAD_RESPONSE",
        1, // the broken event came after the first token: not retried
      ]);
      const timedOut = await settled(client, hang);
      expect([timedOut.status, timedOut.error?.code, timedOut.attempts]).toEqual([
        TaskStatus.FAILED,
        "TIMEOUT",
        1,
      ]);
      // Cut before any output: nothing reached anyone, so it is retried (and fails the same way).
      const early = await settled(client, cutEarly);
      expect([early.status, early.attempts]).toEqual([TaskStatus.FAILED, 3]);
      // Cut after output arrived: not retried.
      const late = await settled(client, cutLate);
      expect([late.status, late.error?.code, late.attempts]).toEqual([
        TaskStatus.FAILED,
        "PROVIDER_STREAM_INTERRUPTED",
        1,
      ]);
    } finally {
      await app.close();
    }
  });
});

describe("infrastructure faults", () => {
  it("loses no task when Redis restarts empty mid-run", async () => {
    const redis = await DisposableRedis.start();
    const app = await startTestApp({
      REDIS_URL: redis.url,
      WORKER_CONCURRENCY: "4",
      RECOVERY_INTERVAL_MS: "200",
      WORKER_LOCK_MS: "1000",
    });
    try {
      const client = connectClient(app.url);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        ids.push(
          (await client.createTask({ prompt: `[[sim ttft=200]] task ${i}`, model: MODEL })).task
            ?.id ?? "",
        );
      }
      await waitFor(async () => {
        const { tasks } = await client.listTasks({ statuses: [TaskStatus.COMPLETED] });
        return tasks.length >= 2 ? true : undefined;
      });
      await redis.kill();
      await redis.start();
      const done = await Promise.all(ids.map((id) => settled(client, id, 30_000)));
      expect(done.map((t) => t.status)).toEqual(ids.map(() => TaskStatus.COMPLETED));
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from task_attempts where outcome = 'succeeded'`.execute(app.db);
      expect(rows[0]?.n).toBe(20);
    } finally {
      await app.close();
      await redis.kill();
    }
  }, 60_000);

  it("answers Unavailable while PostgreSQL is away and recovers by itself", async () => {
    const database = new URL(
      process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    );
    const proxy = await CuttableProxy.start({
      host: database.hostname,
      port: Number(database.port || 5432),
    });
    const app = await startTestApp(
      {},
      {
        rewriteDatabaseUrl: (url) => {
          const parsed = new URL(url);
          parsed.host = `127.0.0.1:${proxy.port}`;
          return parsed.toString();
        },
      },
    );
    try {
      const client = connectClient(app.url);
      const { task } = await client.createTask({ prompt: "before the outage", model: MODEL });
      const id = task?.id ?? "";
      await settled(client, id);

      await proxy.cut();
      const error = await client.getTask({ id }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.Unavailable);
      const ready = await fetch(`${app.url}/readyz`);
      expect(ready.status).toBe(503);

      await proxy.restore();
      const after = await waitFor(
        async () => {
          try {
            return (await client.createTask({ prompt: "after the outage", model: MODEL })).task;
          } catch {
            return undefined;
          }
        },
        { what: "the API to recover" },
      );
      expect((await settled(client, after?.id ?? "")).output).toBe("Echo: after the outage");
      expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    } finally {
      await app.close();
      await proxy.cut();
    }
  }, 60_000);
});
