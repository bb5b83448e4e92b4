import type { Client } from "@connectrpc/connect";
import { TaskPriority, type TaskService, TaskStatus } from "@promptline/proto";
import { Queue } from "bullmq";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";
import { modelOfJob, TASK_QUEUE_NAME } from "../src/queue/task-queue.js";
import { startTestApp, type TestApp, waitFor } from "./harness.js";
import { connectClient, settled } from "./task-client.js";

const MODEL = "simulator/echo";
async function statusOf(
  client: Client<typeof TaskService>,
  id: string,
): Promise<TaskStatus | undefined> {
  return (await client.getTask({ id })).task?.status;
}

async function attemptsOf(app: TestApp, id: string) {
  const { rows } = await sql<{
    attempt: number;
    outcome: string;
    error_code: string | null;
    started_at: Date;
    finished_at: Date | null;
  }>`select attempt, outcome, error_code, started_at, finished_at from task_attempts where task_id = ${id} order by attempt`.execute(
    app.db,
  );
  return rows;
}

describe("retries", () => {
  let app: TestApp;
  let client: Client<typeof TaskService>;
  beforeAll(async () => {
    app = await startTestApp({ RETRY_BASE_MS: "20", RETRY_MAX_MS: "100" });
    client = connectClient(app.url);
  });
  afterAll(async () => app?.close());

  it("retries retryable provider errors with backoff and completes", async () => {
    const key = crypto.randomUUID();
    const { task } = await client.createTask({
      prompt: `[[sim status=503 warmup=2 key=${key}]] hello`,
      model: MODEL,
    });
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.output).toBe("Echo: hello");
    expect(done.attempts).toBe(3);
    const attempts = await attemptsOf(app, done.id);
    expect(attempts.map((a) => [a.outcome, a.error_code])).toEqual([
      ["failed", "PROVIDER_UNAVAILABLE"],
      ["failed", "PROVIDER_UNAVAILABLE"],
      ["succeeded", null],
    ]);
  });

  it("fails with the last error when the attempts run out", async () => {
    const { task } = await client.createTask({ prompt: "[[sim status=500]] x", model: MODEL });
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.FAILED);
    expect(done.error?.code).toBe("PROVIDER_SERVER_ERROR");
    expect(done.attempts).toBe(3);
    expect((await attemptsOf(app, done.id)).map((a) => a.outcome)).toEqual([
      "failed",
      "failed",
      "failed",
    ]);
  });

  it("does not retry errors that cannot succeed", async () => {
    const { task } = await client.createTask({ prompt: "[[sim status=404]] x", model: MODEL });
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.FAILED);
    expect(done.attempts).toBe(1);
    expect(done.error?.httpStatus).toBe(404);
  });

  it("waits at least the provider's Retry-After before the next attempt", async () => {
    const key = crypto.randomUUID();
    const { task } = await client.createTask({
      prompt: `[[sim status=429 retry_after=1 warmup=1 key=${key}]] slow down`,
      model: MODEL,
    });
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    const [first, second] = await attemptsOf(app, done.id);
    expect(first?.error_code).toBe("PROVIDER_RATE_LIMITED");
    const waited = (second?.started_at.getTime() ?? 0) - (first?.finished_at?.getTime() ?? 0);
    expect(waited).toBeGreaterThanOrEqual(950);
  });

  it("does not retry a stream that was cut after output arrived", async () => {
    const { task } = await client.createTask({
      prompt: "[[sim drop_after=3 tokens=10]] a b c d e",
      model: MODEL,
    });
    const done = await settled(client, task?.id ?? "");
    expect(done.status).toBe(TaskStatus.FAILED);
    expect(done.attempts).toBe(1);
    expect(done.error?.code).toBe("PROVIDER_STREAM_INTERRUPTED");
  });
});

describe("cancellation and priorities (one worker slot)", () => {
  let app: TestApp;
  let client: Client<typeof TaskService>;
  beforeAll(async () => {
    app = await startTestApp({ WORKER_CONCURRENCY: "1" });
    client = connectClient(app.url);
  });
  afterAll(async () => app?.close());

  it("cancels a running task within a second, keeping the output so far", async () => {
    const { task } = await client.createTask({
      prompt: "[[sim stall_after=3]] one two three four five",
      model: MODEL,
    });
    const id = task?.id ?? "";
    await waitFor(async () => {
      const { task: t } = await client.getTask({ id });
      return t?.status === TaskStatus.RUNNING ? t : undefined;
    });
    // Give the stream time to deliver its first tokens to the worker.
    await waitFor(async () =>
      (await app.db.selectFrom("tasks").select("status").where("id", "=", id).executeTakeFirst())
        ?.status === "running"
        ? true
        : undefined,
    );
    const asked = Date.now();
    const { task: cancelling } = await client.cancelTask({ id });
    expect(cancelling?.cancelRequestedAt).toBeDefined();
    const done = await settled(client, id, 5_000);
    expect(Date.now() - asked).toBeLessThan(1_000);
    expect(done.status).toBe(TaskStatus.CANCELLED);
    expect(done.error?.code).toBe("CANCELLED");
    expect((await attemptsOf(app, id)).map((a) => a.outcome)).toEqual(["cancelled"]);
  });

  it("cancels a queued task at once and refuses to cancel a finished one", async () => {
    const { task: blocker } = await client.createTask({
      prompt: "[[sim stall_after=1]] busy",
      model: MODEL,
    });
    const { task: waiting } = await client.createTask({ prompt: "never runs", model: MODEL });
    const { task } = await client.cancelTask({ id: waiting?.id ?? "" });
    expect(task?.status).toBe(TaskStatus.CANCELLED);
    await client.cancelTask({ id: blocker?.id ?? "" });
    await settled(client, blocker?.id ?? "");
    expect((await attemptsOf(app, waiting?.id ?? "")).length).toBe(0);

    const { task: quick } = await client.createTask({ prompt: "quick", model: MODEL });
    await settled(client, quick?.id ?? "");
    await expect(client.cancelTask({ id: quick?.id ?? "" })).rejects.toThrow(
      /completed; only pending, queued or running/,
    );
  });

  it("fails a task that waited longer than its queue TTL with EXPIRED", async () => {
    const { task: blocker } = await client.createTask({
      prompt: "[[sim ttft=1500]] busy",
      model: MODEL,
    });
    const { task } = await client.createTask({
      prompt: "too late",
      model: MODEL,
      queueTtl: { seconds: 1n },
    });
    const expired = await settled(client, task?.id ?? "");
    expect([expired.status, expired.error?.code, expired.attempts]).toEqual([
      TaskStatus.FAILED,
      "EXPIRED",
      0,
    ]);
    await settled(client, blocker?.id ?? "");
  });

  it("starts a critical task before 200 low ones queued ahead of it", async () => {
    const { task: blocker } = await client.createTask({
      prompt: "[[sim ttft=300]] blocker",
      model: MODEL,
    });
    const lows: string[] = [];
    for (let i = 0; i < 200; i++) {
      const { task } = await client.createTask({
        prompt: `low ${i}`,
        model: MODEL,
        priority: TaskPriority.LOW,
      });
      lows.push(task?.id ?? "");
    }
    const { task: critical } = await client.createTask({
      prompt: "urgent",
      model: MODEL,
      priority: TaskPriority.CRITICAL,
    });
    // Generous waits: 200 tasks on one slot, on a 2-core machine running other tests.
    const done = await settled(client, critical?.id ?? "", 60_000);
    await settled(client, blocker?.id ?? "", 60_000);
    // Once the critical task is queued, at most the one low job a worker had
    // already taken may start before it; no other low task may.
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from tasks
      where priority = 'low' and id = any(${lows}::uuid[])
        and started_at > (select queued_at from tasks where id = ${done.id})
        and started_at < (select started_at from tasks where id = ${done.id})`.execute(app.db);
    expect(rows[0]?.n).toBeLessThanOrEqual(1);
    await Promise.all(lows.map((id) => settled(client, id, 60_000)));
  }, 120_000);
});

describe("recovery from crashes", () => {
  let simulator: Simulator;
  beforeAll(async () => {
    simulator = await startSimulator({ port: 0 });
  });
  afterAll(async () => simulator?.close());

  it("enqueues a due pending task left without a job (its dispatch was lost)", async () => {
    const app = await startTestApp({ RECOVERY_INTERVAL_MS: "100" });
    try {
      const client = connectClient(app.url);
      // A pending row and no job: a delayed or downstream task whose dispatch a crash lost.
      const id = "01a20000-0000-7000-8000-00000000a001";
      await app.db
        .insertInto("tasks")
        .values({ id, prompt: "orphan", model: MODEL, params: "{}", metadata: "{}" })
        .execute();
      const done = await settled(client, id);
      expect(done.status).toBe(TaskStatus.COMPLETED);
      expect(done.output).toBe("Echo: orphan");
    } finally {
      await app.close();
    }
  });

  it("re-enqueues a queued task without a job (creator died before adding it, or Redis lost it), with the model in the job name", async () => {
    // API only, so no worker takes the job before it is looked at.
    const app = await startTestApp({ PROMPTLINE_ROLE: "api", RECOVERY_INTERVAL_MS: "100" });
    const queue = new Queue(TASK_QUEUE_NAME, {
      connection: { url: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379" },
      prefix: app.queuePrefix,
    });
    try {
      // The state a crash between a create's commit and its job, or Redis losing the job, leaves.
      const id = "01a20000-0000-7000-8000-00000000a003";
      await app.db
        .insertInto("tasks")
        .values({ id, prompt: "lost job", model: MODEL, params: "{}", metadata: "{}" })
        .execute();
      await sql`update tasks set status = 'queued', queued_at = now() where id = ${id}`.execute(
        app.db,
      );
      const job = await waitFor(async () => (await queue.getJob(id)) ?? undefined, {
        what: "the sweep to re-enqueue the task",
      });
      // The name routes the job; without the model the worker would read the task first.
      expect(modelOfJob(job.name)).toBe(MODEL);
    } finally {
      await queue.close();
      await app.close();
    }
  });

  it("moves on a task left running with no live job", async () => {
    const app = await startTestApp({ RECOVERY_INTERVAL_MS: "100", WORKER_LOCK_MS: "1000" });
    try {
      const client = connectClient(app.url);
      // The state a worker that died after its claim, with its job gone from Redis, leaves.
      const id = "01a20000-0000-7000-8000-00000000a002";
      await app.db
        .insertInto("tasks")
        .values({ id, prompt: "abandoned", model: MODEL, params: "{}", metadata: "{}" })
        .execute();
      await sql`update tasks set status = 'queued', queued_at = now() where id = ${id}`.execute(
        app.db,
      );
      await sql`update tasks set status = 'running', started_at = now(), attempts = 1 where id = ${id}`.execute(
        app.db,
      );
      await sql`insert into task_attempts (task_id, attempt, worker_id) values (${id}, 1, 'ghost')`.execute(
        app.db,
      );
      const done = await settled(client, id);
      expect(done.status).toBe(TaskStatus.COMPLETED);
      expect((await attemptsOf(app, id)).map((a) => [a.outcome, a.error_code])).toEqual([
        ["failed", "WORKER_LOST"],
        ["succeeded", null],
      ]);
    } finally {
      await app.close();
    }
  });

  it("re-runs a task whose worker was killed mid-call; it completes exactly once", async () => {
    const { spawnPromptline } = await import("./harness.js");
    const api = await startTestApp({
      PROMPTLINE_ROLE: "api",
      SIMULATOR_URL: simulator.url,
      RECOVERY_INTERVAL_MS: "200",
      WORKER_LOCK_MS: "1000",
    });
    try {
      const client = connectClient(api.url);
      const env = {
        DATABASE_URL: api.databaseUrl,
        REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
        QUEUE_PREFIX: api.queuePrefix,
        SIMULATOR_URL: simulator.url,
        WORKER_LOCK_MS: "1000",
        RECOVERY_INTERVAL_MS: "200",
      };
      const first = await spawnPromptline("worker", env);
      const { task } = await client.createTask({
        prompt: "[[sim ttft=1500]] survive",
        model: MODEL,
      });
      const id = task?.id ?? "";
      await waitFor(async () =>
        (await statusOf(client, id)) === TaskStatus.RUNNING ? true : undefined,
      );
      first.kill("SIGKILL");
      await first.exited;
      const second = await spawnPromptline("worker", env);
      try {
        const done = await settled(client, id, 20_000);
        expect(done.status).toBe(TaskStatus.COMPLETED);
        expect(done.output).toBe("Echo: survive");
        const attempts = await attemptsOf(api, id);
        expect(attempts.map((a) => [a.outcome, a.error_code])).toEqual([
          ["failed", "WORKER_LOST"],
          ["succeeded", null],
        ]);
      } finally {
        second.kill("SIGTERM");
        await second.exited;
      }
    } finally {
      await api.close();
    }
  }, 60_000);

  it("lets a running task finish on SIGTERM, and requeues one that outlives the grace period", async () => {
    const { spawnPromptline } = await import("./harness.js");
    const api = await startTestApp({ PROMPTLINE_ROLE: "api", SIMULATOR_URL: simulator.url });
    try {
      const client = connectClient(api.url);
      const env = {
        DATABASE_URL: api.databaseUrl,
        REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
        QUEUE_PREFIX: api.queuePrefix,
        SIMULATOR_URL: simulator.url,
      };
      const patient = await spawnPromptline("worker", { ...env, SHUTDOWN_GRACE_MS: "10000" });
      const { task: short } = await client.createTask({
        prompt: "[[sim ttft=700]] finish me",
        model: MODEL,
      });
      await waitFor(async () =>
        (await statusOf(client, short?.id ?? "")) === TaskStatus.RUNNING ? true : undefined,
      );
      patient.kill("SIGTERM");
      expect(await patient.exited).toBe(0);
      expect(await statusOf(client, short?.id ?? "")).toBe(TaskStatus.COMPLETED);

      const hasty = await spawnPromptline("worker", { ...env, SHUTDOWN_GRACE_MS: "100" });
      const { task: long } = await client.createTask({
        prompt: "[[sim ttft=5000]] too long",
        model: MODEL,
      });
      await waitFor(async () =>
        (await statusOf(client, long?.id ?? "")) === TaskStatus.RUNNING ? true : undefined,
      );
      hasty.kill("SIGTERM");
      expect(await hasty.exited).toBe(0);
      expect(await statusOf(client, long?.id ?? "")).toBe(TaskStatus.QUEUED);
      expect((await attemptsOf(api, long?.id ?? "")).map((a) => [a.outcome, a.error_code])).toEqual(
        [["cancelled", "WORKER_SHUTDOWN"]],
      );
    } finally {
      await api.close();
    }
  }, 60_000);
});

describe("provider limits", () => {
  it("a saturated provider does not starve tasks for another", async () => {
    const other = await startSimulator({ port: 0 });
    // `nim` here is a second simulator (a self-hosted NIM needs no key).
    const app = await startTestApp({
      WORKER_CONCURRENCY: "4",
      LLM_BASE_URL: other.url,
      SIMULATOR: "on",
      PROVIDER_LIMITS: "simulator:concurrency=1",
    });
    try {
      const client = connectClient(app.url);
      const slow: string[] = [];
      for (let i = 0; i < 8; i++) {
        slow.push(
          (await client.createTask({ prompt: `[[sim ttft=600]] slow ${i}`, model: MODEL })).task
            ?.id ?? "",
        );
      }
      const { task } = await client.createTask({ prompt: "not stuck", model: "nim/echo" });
      const fast = await settled(client, task?.id ?? "");
      expect(fast.status).toBe(TaskStatus.COMPLETED);
      expect(fast.provider).toBe("nim");
      const { tasks } = await client.listTasks({ statuses: [TaskStatus.COMPLETED], model: MODEL });
      expect(tasks.length).toBeLessThanOrEqual(2);
      // The limited provider still gets through its queue, one at a time, without using attempts.
      const done = await Promise.all(slow.map((id) => settled(client, id, 30_000)));
      expect(done.map((t) => [t.status, t.attempts])).toEqual(
        slow.map(() => [TaskStatus.COMPLETED, 1]),
      );
      const { rows } = await sql<{ overlap: number }>`
        select count(*)::int as overlap from tasks a join tasks b on a.id < b.id
        where a.model = ${MODEL} and b.model = ${MODEL}
          and a.started_at < b.completed_at and b.started_at < a.completed_at`.execute(app.db);
      expect(rows[0]?.overlap).toBe(0);
    } finally {
      await app.close();
      await other.close();
    }
  }, 60_000);
});
