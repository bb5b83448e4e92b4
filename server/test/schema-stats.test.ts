import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { describe, expect } from "vitest";
import { isCheckViolation, isForeignKeyViolation, isUniqueViolation } from "../src/db/errors.js";
import { dbTest } from "./db-fixture.js";
import { insertTask, rejectionOf } from "./schema-helpers.js";

describe("task_stats", () => {
  dbTest(
    "aggregates count, latency percentiles, tokens and cost per model and status",
    async ({ db }) => {
      const model = `stats/${randomUUID()}`;
      for (const [latency, cost] of [
        [100, "0.00100000"],
        [200, "0.00200000"],
        [300, "0.00300000"],
        [400, "0.00000001"],
      ] as const) {
        await insertTask(db, {
          model,
          status: "completed",
          latency_ms: latency,
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          cost_usd: cost,
        });
      }
      await insertTask(db, { model, status: "failed", error_code: "timeout" });

      const rows = await db
        .selectFrom("task_stats")
        .selectAll()
        .where("model", "=", model)
        .orderBy("status")
        .execute();
      expect(rows).toEqual([
        {
          model,
          status: "completed",
          count: 4,
          avg_latency_ms: 250,
          p50_latency_ms: 250,
          p95_latency_ms: 385,
          prompt_tokens: 40,
          completion_tokens: 20,
          total_tokens: 60,
          cost_usd: "0.00600001",
        },
        {
          model,
          status: "failed",
          count: 1,
          avg_latency_ms: null,
          p50_latency_ms: null,
          p95_latency_ms: null,
          prompt_tokens: 0,
          completion_tokens: 0,
          total_tokens: 0,
          cost_usd: "0",
        },
      ]);
    },
  );

  dbTest("numbers come back as documented: int8 as number, numeric as string", async ({ db }) => {
    const result = await sql<{ big: number; money: string }>`
      select 9007199254740991::int8 as big, 0.1::numeric + 0.2::numeric as money
    `.execute(db);
    expect(result.rows[0]).toEqual({ big: Number.MAX_SAFE_INTEGER, money: "0.3" });
    const tooBig = await rejectionOf(sql`select 9007199254740993::int8 as big`.execute(db));
    expect(tooBig).toBeInstanceOf(RangeError);
    expect(await sql<{ ok: number }>`select 1 as ok`.execute(db)).toMatchObject({
      rows: [{ ok: 1 }],
    });
  });
});

describe("constraints", () => {
  dbTest(
    "an idempotency key is unique per owner once set; unset keys never collide",
    async ({ db }) => {
      const key = `key-${randomUUID()}`;
      await insertTask(db, { idempotency_key: key });
      const error = await rejectionOf(insertTask(db, { idempotency_key: key }));
      expect(isUniqueViolation(error, "tasks_idempotency_key_key")).toBe(true);
      expect(isUniqueViolation(error, "templates_name_key")).toBe(false);
      await insertTask(db, { idempotency_key: null });
      await insertTask(db, { idempotency_key: null });

      const replay = await db
        .insertInto("tasks")
        .values({ id: randomUUID(), prompt: "again", model: "m", idempotency_key: key })
        .onConflict((oc) => oc.columns(["owner_id", "idempotency_key"]).doNothing())
        .returning("id")
        .executeTakeFirst();
      expect(replay).toBeUndefined();
    },
  );

  dbTest("attempts, max_attempts and name length are checked", async ({ db }) => {
    expect(
      isCheckViolation(
        await rejectionOf(insertTask(db, { max_attempts: 0 })),
        "tasks_max_attempts_check",
      ),
    ).toBe(true);
    expect(isCheckViolation(await rejectionOf(insertTask(db, { max_attempts: 101 })))).toBe(true);
    expect(
      isCheckViolation(await rejectionOf(insertTask(db, { attempts: -1 })), "tasks_attempts_check"),
    ).toBe(true);
    expect(
      isCheckViolation(
        await rejectionOf(insertTask(db, { name: "x".repeat(201) })),
        "tasks_name_length_check",
      ),
    ).toBe(true);
    await insertTask(db, { name: "x".repeat(200), max_attempts: 100 });
  });

  dbTest("a parent that does not exist is a foreign key violation", async ({ db }) => {
    const error = await rejectionOf(insertTask(db, { parent_task_id: randomUUID() }));
    expect(isForeignKeyViolation(error, "tasks_parent_task_id_fkey")).toBe(true);
  });

  dbTest("one attempt row per attempt number", async ({ db }) => {
    const task = await insertTask(db);
    await db.insertInto("task_attempts").values({ task_id: task.id, attempt: 1 }).execute();
    const error = await rejectionOf(
      db.insertInto("task_attempts").values({ task_id: task.id, attempt: 1 }).execute(),
    );
    expect(isUniqueViolation(error, "task_attempts_task_id_attempt_key")).toBe(true);
    const attempt = await db
      .selectFrom("task_attempts")
      .selectAll()
      .where("task_id", "=", task.id)
      .executeTakeFirstOrThrow();
    expect(attempt).toMatchObject({ attempt: 1, outcome: "running", finished_at: null });
    expect(typeof attempt.id).toBe("number");
  });

  dbTest("search finds words of the name and the prompt", async ({ db }) => {
    const word = `w${randomUUID().replaceAll("-", "")}`;
    const task = await insertTask(db, {
      name: `Nightly ${word}`,
      prompt: "Summarise the incident report",
    });
    const found = await db
      .selectFrom("task_search")
      .select("task_id")
      .where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${`${word} incident`})`)
      .execute();
    expect(found).toEqual([{ task_id: task.id }]);
  });
});

describe("templates", () => {
  dbTest("names are unique and updated_at moves on update", async ({ db }) => {
    const name = `template-${randomUUID()}`;
    const template = await db
      .insertInto("templates")
      .values({
        name,
        prompt: "Translate {{text}}",
        model: "m",
        variables: JSON.stringify([{ name: "text", required: true }]),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(template.variables).toEqual([{ name: "text", required: true }]);
    expect(template.params).toEqual({});

    const error = await rejectionOf(
      db.insertInto("templates").values({ name, prompt: "p", model: "m" }).execute(),
    );
    expect(isUniqueViolation(error, "templates_name_key")).toBe(true);

    const updated = await db
      .updateTable("templates")
      .set({ description: "changed", updated_at: new Date("2020-01-01T00:00:00Z") })
      .where("id", "=", template.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(updated.updated_at.getTime()).toBeGreaterThanOrEqual(template.created_at.getTime());
  });
});
