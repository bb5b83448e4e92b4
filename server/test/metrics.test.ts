import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService } from "@promptline/proto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTaskMetrics } from "../src/db/stats.js";
import { dbTest } from "./db-fixture.js";
import { startTestApp, type TestApp, waitFor } from "./harness.js";
import { insertTask, rejectionOf } from "./schema-helpers.js";

describe("readTaskMetrics", () => {
  dbTest(
    "buckets finished tasks by when they finished, and totals them by model",
    async ({ db }) => {
      const finishedAgo = async (
        minutes: number,
        values: Parameters<typeof insertTask>[1],
      ): Promise<Date> => {
        const row = await insertTask(db, values);
        const { rows } = await sql<{ completed_at: Date }>`
        update tasks set completed_at = now() - make_interval(mins => ${minutes})
        where id = ${row.id} returning completed_at
      `.execute(db);
        const at = rows[0]?.completed_at;
        if (at === undefined) throw new Error("the task just inserted is gone");
        return at;
      };
      const now = await finishedAgo(0, {
        model: "m/a",
        status: "completed",
        latency_ms: 100,
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        cost_usd: "0.25",
      });
      await finishedAgo(0, {
        model: "m/a",
        status: "completed",
        latency_ms: 300,
        prompt_tokens: 1,
        completion_tokens: 1,
        total_tokens: 2,
        cost_usd: "0.5",
      });
      const fiveAgo = await finishedAgo(5, { model: "m/b", status: "failed", error_code: "X" });
      await finishedAgo(6, { model: "m/b", status: "cancelled" });
      // Outside the 10-minute window, and not finished at all: neither counts.
      await finishedAgo(30, { model: "m/c", status: "completed", latency_ms: 1 });
      await insertTask(db, { model: "m/d", status: "queued" });

      const metrics = await readTaskMetrics(db, { bucketSeconds: 60, buckets: 10 });

      expect(metrics.buckets).toHaveLength(10);
      expect(metrics.end.getTime() - metrics.start.getTime()).toBe(10 * 60_000);
      expect(metrics.start.getTime() % 60_000).toBe(0);
      for (const [i, b] of metrics.buckets.entries()) {
        expect(b.start.getTime()).toBe(metrics.start.getTime() + i * 60_000);
      }
      const holding = (at: Date) =>
        metrics.buckets.find(
          (b) => b.start.getTime() <= at.getTime() && at.getTime() < b.start.getTime() + 60_000,
        );
      expect(holding(now)).toMatchObject({
        completed: 2,
        failed: 0,
        latencyP50Ms: 200,
        totalTokens: 17,
        costUsd: 0.75,
      });
      expect(metrics.buckets.at(-1)).toBe(holding(now));
      expect(holding(fiveAgo)).toMatchObject({ failed: 1, latencyP50Ms: undefined });
      const sum = (pick: (b: (typeof metrics.buckets)[number]) => number) =>
        metrics.buckets.reduce((total, b) => total + pick(b), 0);
      expect([sum((b) => b.completed), sum((b) => b.failed), sum((b) => b.cancelled)]).toEqual([
        2, 1, 1,
      ]);

      expect(metrics.models).toEqual([
        {
          model: "m/a",
          finished: 2,
          failed: 0,
          promptTokens: 11,
          completionTokens: 6,
          costUsd: 0.75,
        },
        { model: "m/b", finished: 2, failed: 1, promptTokens: 0, completionTokens: 0, costUsd: 0 },
      ]);
    },
  );
});

describe("GetTaskMetrics", () => {
  let app: TestApp;
  const tasks = () =>
    createClient(TaskService, createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }));

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it("answers for the last hour in minutes by default, with the tasks just run", async () => {
    const { task } = await tasks().createTask({ prompt: "hi", model: "simulator/echo" });
    await waitFor(async () => {
      const m = await tasks().getTaskMetrics({});
      return m.buckets.at(-1)?.completed === 1n ? m : undefined;
    });
    const m = await tasks().getTaskMetrics({});
    expect(m.buckets).toHaveLength(60);
    expect(m.bucket === undefined ? 0 : durationMs(m.bucket)).toBe(60_000);
    expect(
      m.start && m.end && timestampDate(m.end).getTime() - timestampDate(m.start).getTime(),
    ).toBe(3_600_000);
    expect(m.models).toEqual([
      expect.objectContaining({ model: task?.model, finished: 1n, failed: 0n }),
    ]);
  });

  it("rounds the window up to whole buckets", async () => {
    const m = await tasks().getTaskMetrics({
      window: { seconds: 300n },
      bucket: { seconds: 120n },
    });
    expect(m.buckets).toHaveLength(3);
  });

  it("refuses a window or bucket out of range, naming the field", async () => {
    const cases = [
      [{ window: { seconds: 10n } }, "window: must be between 1m and 7d"],
      [{ window: { seconds: 8n * 86_400n } }, "window: must be between 1m and 7d"],
      [{ bucket: { seconds: 1n } }, "bucket: must be between 10s and 7d"],
      [{ window: { seconds: 600n }, bucket: { seconds: 3600n } }, "bucket: must not be longer"],
      [{ window: { seconds: 86_400n * 7n }, bucket: { seconds: 60n } }, "at most 1000 buckets"],
    ] as const;
    for (const [req, message] of cases) {
      const err = ConnectError.from(await rejectionOf(tasks().getTaskMetrics(req)));
      expect(err.code, message).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain(message);
    }
  });
});
