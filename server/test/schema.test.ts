import { migrations } from "@promptline/migrations";
import { type Kysely, sql } from "kysely";
import { Migrator } from "kysely/migration";
import { describe, expect, test } from "vitest";
import { createPostgresDb } from "../src/db/connection.js";
import {
  ILLEGAL_TRANSITION,
  illegalTransitionOf,
  isIllegalTransition,
  postgresErrorOf,
} from "../src/db/errors.js";
import { migrateToLatest } from "../src/db/migrate.js";
import type { DB, TaskStatus } from "../src/db/schema.js";
import { TASK_PRIORITIES, TASK_STATUSES } from "../src/tasks/status.js";
import { createTestDatabase, dbTest } from "./db-fixture.js";
import { expectClaimThroughQueued, insertTask, rejectionOf } from "./schema-helpers.js";

/** Every migration, in the order they run. */
const ALL_MIGRATIONS = Object.keys(migrations).sort();

/** The lifecycle from design.md, written out independently of the SQL that enforces it. */
const legalMoves: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ["queued", "cancelled", "failed"],
  queued: ["running", "cancelled", "failed", "pending"],
  running: ["completed", "failed", "cancelled", "queued"],
  completed: [],
  // → pending: a task downstream of a node retried with RetryFromTask waits for it again.
  failed: ["queued", "pending"],
  cancelled: ["queued", "pending"],
};

async function eventsOf(db: Kysely<DB>, taskId: string) {
  return db
    .selectFrom("task_events")
    .selectAll()
    .where("task_id", "=", taskId)
    .orderBy("seq")
    .execute();
}

async function moveTo(db: Kysely<DB>, taskId: string, status: TaskStatus) {
  return db
    .updateTable("tasks")
    .set({ status })
    .where("id", "=", taskId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

describe("migrations", () => {
  test("a second run is a no-op", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      expect(await migrateToLatest(database.db)).toEqual(ALL_MIGRATIONS);
      expect(await migrateToLatest(database.db)).toEqual([]);
      const executed = await sql<{
        name: string;
      }>`select name from kysely_migration order by name`.execute(database.db);
      expect(executed.rows.map((r) => r.name)).toEqual(ALL_MIGRATIONS);
    } finally {
      await database.drop();
    }
  });

  test("processes starting at once on a fresh database all succeed, and it migrates once", async () => {
    const database = await createTestDatabase({ migrate: false });
    const processes = Array.from({ length: 4 }, () => createPostgresDb(database.url));
    try {
      const ran = await Promise.all(processes.map((db) => migrateToLatest(db)));
      expect(ran.flat()).toEqual(ALL_MIGRATIONS);
      expect(await migrateToLatest(database.db)).toEqual([]);
    } finally {
      await Promise.all(processes.map((db) => db.destroy()));
      await database.drop();
    }
  });

  test("0005 moves the search of existing tasks to task_search and keeps it with the task", async () => {
    const database = await createTestDatabase({ migrate: false });
    const db = database.db;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const found = async (words: string) =>
      (
        await db
          .selectFrom("task_search")
          .select("task_id")
          .where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${words})`)
          .orderBy("task_id")
          .execute()
      ).map((r) => r.task_id);
    try {
      expect((await migrator.migrateTo("0004_claim")).error).toBeUndefined();
      const before = await insertTask(db, { name: "Nightly digest", prompt: "Summarise the logs" });
      await migrateToLatest(db);
      const after = await insertTask(db, { name: "Weekly digest", prompt: "Summarise the alerts" });
      expect(await found("nightly logs")).toEqual([before.id]);
      expect(await found("digest summarise")).toEqual([before.id, after.id].sort());
      // Not done by the app today, but a changed name or prompt is searched as changed.
      await db
        .updateTable("tasks")
        .set({ prompt: "Count the alerts" })
        .where("id", "=", before.id)
        .execute();
      expect(await found("logs")).toEqual([]);
      expect(await found("count alerts")).toEqual([before.id]);
      await db.deleteFrom("tasks").where("id", "=", before.id).execute();
      expect(await found("digest")).toEqual([after.id]);
    } finally {
      await database.drop();
    }
  });

  dbTest(
    "task_search.task_id has no ordered index (0005: it would steer rare-word lists into a full walk)",
    async ({ db }) => {
      const indexes = await sql<{ name: string; method: string }>`
      select c.relname as name, am.amname as method
      from pg_index i
      join pg_class c on c.oid = i.indexrelid
      join pg_am am on am.oid = c.relam
      where i.indrelid = 'task_search'::regclass
      order by c.relname
    `.execute(db);
      expect(indexes.rows).toEqual([
        { name: "task_search_search_idx", method: "gin" },
        { name: "task_search_task_id_idx", method: "hash" },
      ]);
    },
  );

  dbTest("the enums are the app's vocabulary", async ({ db }) => {
    const enums = await sql<{ statuses: string[]; priorities: string[] }>`
      select enum_range(null::task_status)::text[] as statuses,
             enum_range(null::task_priority)::text[] as priorities
    `.execute(db);
    expect(enums.rows[0]).toEqual({
      statuses: [...TASK_STATUSES],
      priorities: [...TASK_PRIORITIES],
    });
  });
});

describe("connection", () => {
  test("sessions plan for cached data (random_page_cost 1.1), unless the URL says otherwise", async () => {
    const database = await createTestDatabase({ migrate: false });
    const plain = createPostgresDb(database.url);
    const url = new URL(database.url);
    url.searchParams.set("options", "-c random_page_cost=3");
    const overridden = createPostgresDb(url.toString());
    try {
      const cost = async (db: Kysely<DB>) =>
        (await sql<{ random_page_cost: string }>`show random_page_cost`.execute(db)).rows[0]
          ?.random_page_cost;
      expect(await cost(plain)).toBe("1.1");
      expect(await cost(overridden)).toBe("3");
    } finally {
      await Promise.all([plain.destroy(), overridden.destroy()]);
      await database.drop();
    }
  });
});

describe("transition guard", () => {
  dbTest("allows exactly the lifecycle's moves", async ({ db }) => {
    const refused: string[] = [];
    const allowed: string[] = [];
    for (const from of TASK_STATUSES) {
      for (const to of TASK_STATUSES) {
        if (from === to) continue;
        const task = await insertTask(db, { status: from });
        const error = await rejectionOf(moveTo(db, task.id, to));
        if (error === undefined) {
          allowed.push(`${from}->${to}`);
        } else if (isIllegalTransition(error)) {
          refused.push(`${from}->${to}`);
        } else {
          throw error;
        }
      }
    }
    const expected = TASK_STATUSES.flatMap((from) =>
      legalMoves[from].map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(expected.sort());
    expect(refused).toHaveLength(30 - expected.length);
  });

  dbTest("refuses completed -> running with PT001 and says which move", async ({ db }) => {
    const task = await insertTask(db, { status: "completed" });
    const error = await rejectionOf(moveTo(db, task.id, "running"));

    expect(postgresErrorOf(error)).toMatchObject({
      code: ILLEGAL_TRANSITION,
      message: `illegal task transition: completed -> running (task ${task.id})`,
      constraint: "tasks_status_transition",
      table: "tasks",
      column: "status",
    });
    expect(illegalTransitionOf(error)).toEqual({
      taskId: task.id,
      from: "completed",
      to: "running",
    });
    const after = await db
      .selectFrom("tasks")
      .selectAll()
      .where("id", "=", task.id)
      .executeTakeFirstOrThrow();
    expect(after).toMatchObject({ status: "completed", seq: 1 });
    expect(await eventsOf(db, task.id)).toHaveLength(1);
  });

  dbTest(
    "refuses skipping a step and leaving a terminal state by any path but retry",
    async ({ db }) => {
      const pending = await insertTask(db);
      expect(
        illegalTransitionOf(await rejectionOf(moveTo(db, pending.id, "running"))),
      ).toMatchObject({
        from: "pending",
        to: "running",
      });
      expect(
        illegalTransitionOf(await rejectionOf(moveTo(db, pending.id, "completed"))),
      ).toMatchObject({
        from: "pending",
        to: "completed",
      });
      const failed = await insertTask(db, { status: "failed" });
      expect(isIllegalTransition(await rejectionOf(moveTo(db, failed.id, "completed")))).toBe(true);
      expect(isIllegalTransition(await rejectionOf(moveTo(db, failed.id, "running")))).toBe(true);
      expect(await moveTo(db, failed.id, "queued")).toMatchObject({ status: "queued" });
    },
  );

  dbTest(
    "a guarded claim that lost the race updates nothing instead of failing",
    async ({ db }) => {
      const task = await insertTask(db, { status: "cancelled" });
      const claimed = await db
        .updateTable("tasks")
        .set({ status: "running" })
        .where("id", "=", task.id)
        .where("status", "=", "queued")
        .returningAll()
        .executeTakeFirst();
      expect(claimed).toBeUndefined();
    },
  );

  dbTest("an update that keeps the status writes no event and keeps seq", async ({ db }) => {
    const task = await insertTask(db);
    const updated = await db
      .updateTable("tasks")
      .set({ output: "partial", status: "pending", updated_at: new Date("2020-01-01T00:00:00Z") })
      .where("id", "=", task.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(updated.seq).toBe(1);
    expect(updated.updated_at.getTime()).toBeGreaterThanOrEqual(task.created_at.getTime());
    expect(await eventsOf(db, task.id)).toHaveLength(1);
  });
});

describe("claim", () => {
  dbTest("takes a task whose job came first through queued", async ({ db }) => {
    await expectClaimThroughQueued(db);
  });
});

describe("event log", () => {
  dbTest("a task's whole life is one event per change, seq 1, 2, 3, …", async ({ db }) => {
    const task = await insertTask(db);
    expect(task.seq).toBe(1);
    const attempt = (n: number) =>
      db
        .updateTable("tasks")
        .set({ status: "running", attempts: n, error_code: null, error_message: null })
        .where("id", "=", task.id)
        .execute();

    await moveTo(db, task.id, "queued");
    await attempt(1);
    await db
      .updateTable("tasks")
      .set({ status: "queued", error_code: "rate_limited", error_message: "429 from provider" })
      .where("id", "=", task.id)
      .execute();
    await attempt(2);
    await db
      .updateTable("tasks")
      .set({ status: "failed", error_code: "bad_request", error_message: "400 from provider" })
      .where("id", "=", task.id)
      .execute();
    await moveTo(db, task.id, "queued");
    await db
      .updateTable("tasks")
      .set({ status: "running", attempts: 3, error_code: null, error_message: null })
      .where("id", "=", task.id)
      .execute();
    const done = await moveTo(db, task.id, "completed");

    const events = await eventsOf(db, task.id);
    expect(events.map((e) => [e.seq, e.type, e.from_status, e.to_status])).toEqual([
      [1, "created", null, "pending"],
      [2, "status", "pending", "queued"],
      [3, "status", "queued", "running"],
      [4, "status", "running", "queued"],
      [5, "status", "queued", "running"],
      [6, "status", "running", "failed"],
      [7, "status", "failed", "queued"],
      [8, "status", "queued", "running"],
      [9, "status", "running", "completed"],
    ]);
    expect(done.seq).toBe(9);
    expect(events[0]?.data).toEqual({});
    expect(events[3]?.data).toEqual({
      attempt: 1,
      error_code: "rate_limited",
      error_message: "429 from provider",
    });
    expect(events[5]?.data).toEqual({
      attempt: 2,
      error_code: "bad_request",
      error_message: "400 from provider",
    });
    expect(events[8]?.data).toEqual({ attempt: 3 });
    const times = events.map((e) => e.at.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  dbTest("the event commits or rolls back with its transition", async ({ db }) => {
    const task = await insertTask(db);
    const rolledBack = new Error("roll back");
    const error = await rejectionOf(
      db.transaction().execute(async (trx) => {
        await moveTo(trx, task.id, "queued");
        await moveTo(trx, task.id, "running");
        expect((await eventsOf(trx, task.id)).map((e) => e.seq)).toEqual([1, 2, 3]);
        expect((await eventsOf(db, task.id)).map((e) => e.seq)).toEqual([1]);
        throw rolledBack;
      }),
    );
    expect(error).toBe(rolledBack);
    const after = await db
      .selectFrom("tasks")
      .select(["status", "seq"])
      .where("id", "=", task.id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ status: "pending", seq: 1 });
    expect((await eventsOf(db, task.id)).map((e) => e.seq)).toEqual([1]);

    await db.transaction().execute(async (trx) => {
      await moveTo(trx, task.id, "queued");
      await moveTo(trx, task.id, "running");
    });
    expect((await eventsOf(db, task.id)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  dbTest("concurrent transitions of one task never reuse a seq", async ({ db }) => {
    const task = await insertTask(db, { status: "queued" });
    const moves = Array.from({ length: 8 }, (_, i) =>
      rejectionOf(
        db
          .updateTable("tasks")
          .set({ status: i % 2 === 0 ? "pending" : "queued" })
          .where("id", "=", task.id)
          .execute(),
      ),
    );
    const outcomes = await Promise.all(moves);
    for (const outcome of outcomes) {
      if (outcome !== undefined && !isIllegalTransition(outcome)) throw outcome;
    }
    const events = await eventsOf(db, task.id);
    const row = await db
      .selectFrom("tasks")
      .select("seq")
      .where("id", "=", task.id)
      .executeTakeFirstOrThrow();
    expect(events.map((e) => e.seq)).toEqual(
      Array.from({ length: events.length }, (_, i) => i + 1),
    );
    expect(row.seq).toBe(events.length);
  });

  dbTest("deleting a task deletes its events and attempts", async ({ db }) => {
    const task = await insertTask(db, { status: "queued" });
    await db
      .insertInto("task_attempts")
      .values({ task_id: task.id, attempt: 1, worker_id: "w1" })
      .execute();
    await db.deleteFrom("tasks").where("id", "=", task.id).execute();
    expect(await eventsOf(db, task.id)).toEqual([]);
    const attempts = await db
      .selectFrom("task_attempts")
      .select("id")
      .where("task_id", "=", task.id)
      .execute();
    expect(attempts).toEqual([]);
  });
});
