import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { migrations } from "@promptline/migrations";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createPgliteDb } from "../src/db/connection.js";
import { illegalTransitionOf, isIllegalTransition, isUniqueViolation } from "../src/db/errors.js";
import { migrateToLatest } from "../src/db/migrate.js";
import type { DB, TaskLineageRow } from "../src/db/schema.js";
import { expectClaimThroughQueued, insertTask, rejectionOf } from "./schema-helpers.js";

/** Every migration, in the order they run. */
const ALL_MIGRATIONS = Object.keys(migrations).sort();

describe("the same schema on embedded PGlite", () => {
  let db: Kysely<DB>;
  let firstRun: string[][];

  beforeAll(async () => {
    db = await createPgliteDb();
    firstRun = await Promise.all([migrateToLatest(db), migrateToLatest(db)]);
  });
  afterAll(async () => {
    await db.destroy();
  });

  test("migrates once, even when asked twice at once", async () => {
    expect(firstRun.flat()).toEqual(ALL_MIGRATIONS);
    expect(await migrateToLatest(db)).toEqual([]);
  });

  test("the guard refuses completed -> running and allows a retry", async () => {
    const task = await insertTask(db, { status: "completed" });
    const error = await rejectionOf(
      db.updateTable("tasks").set({ status: "running" }).where("id", "=", task.id).execute(),
    );
    expect(isIllegalTransition(error)).toBe(true);
    expect(illegalTransitionOf(error)).toEqual({
      taskId: task.id,
      from: "completed",
      to: "running",
    });

    const failed = await insertTask(db, { status: "failed" });
    await db.updateTable("tasks").set({ status: "queued" }).where("id", "=", failed.id).execute();
    const events = await db
      .selectFrom("task_events")
      .select(["seq", "type", "from_status", "to_status"])
      .where("task_id", "=", failed.id)
      .orderBy("seq")
      .execute();
    expect(events).toEqual([
      { seq: 1, type: "created", from_status: null, to_status: "failed" },
      { seq: 2, type: "status", from_status: "failed", to_status: "queued" },
    ]);
  });

  test("the claim takes a task whose job came first through queued", async () => {
    await expectClaimThroughQueued(db);
  });

  test("a refused transition inside a transaction rolls the transaction back", async () => {
    const task = await insertTask(db, { status: "queued" });
    const error = await rejectionOf(
      db.transaction().execute(async (trx) => {
        await trx
          .updateTable("tasks")
          .set({ status: "running" })
          .where("id", "=", task.id)
          .execute();
        await trx
          .updateTable("tasks")
          .set({ status: "pending" })
          .where("id", "=", task.id)
          .execute();
      }),
    );
    expect(isIllegalTransition(error)).toBe(true);
    const after = await db
      .selectFrom("tasks")
      .select(["status", "seq"])
      .where("id", "=", task.id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ status: "queued", seq: 1 });
  });

  test("parent_task_id, edges, chains, lineage and stats work the same", async () => {
    const parent = await insertTask(db, {
      model: "pglite/model",
      latency_ms: 10,
      status: "completed",
    });
    const child = await insertTask(db, { parent_task_id: parent.id, model: "pglite/model" });
    const chainId = (
      await db
        .selectFrom("tasks")
        .select("chain_id")
        .where("id", "=", parent.id)
        .executeTakeFirstOrThrow()
    ).chain_id;
    expect(chainId).not.toBeNull();
    expect(child.chain_id).toBe(chainId);

    const lineage = await sql<TaskLineageRow>`select * from task_lineage(${child.id})`.execute(db);
    expect(lineage.rows).toEqual([
      { parent_id: parent.id, child_id: child.id, kind: "derived", name: null, depth: -1 },
    ]);

    await db.deleteFrom("task_chain_edges").where("child_id", "=", child.id).execute();
    const orphan = await db
      .selectFrom("tasks")
      .select("parent_task_id")
      .where("id", "=", child.id)
      .executeTakeFirstOrThrow();
    expect(orphan.parent_task_id).toBeNull();

    const stats = await db
      .selectFrom("task_stats")
      .select(["status", "count", "p50_latency_ms", "cost_usd"])
      .where("model", "=", "pglite/model")
      .orderBy("status")
      .execute();
    expect(stats).toEqual([
      { status: "pending", count: 1, p50_latency_ms: null, cost_usd: "0" },
      { status: "completed", count: 1, p50_latency_ms: 10, cost_usd: "0" },
    ]);
  });

  test("text search finds a task by its name and prompt, until it is deleted", async () => {
    const task = await insertTask(db, {
      name: "Embedded digest",
      prompt: "Summarise the pglite logs",
    });
    const found = () =>
      db
        .selectFrom("task_search")
        .select("task_id")
        .where(sql<boolean>`search @@ websearch_to_tsquery('simple', 'embedded pglite')`)
        .execute();
    expect(await found()).toEqual([{ task_id: task.id }]);
    await db.deleteFrom("tasks").where("id", "=", task.id).execute();
    expect(await found()).toEqual([]);
  });

  test("errors carry the same codes and constraint names", async () => {
    await insertTask(db, { idempotency_key: "same" });
    const error = await rejectionOf(insertTask(db, { idempotency_key: "same" }));
    expect(isUniqueViolation(error, "tasks_idempotency_key_key")).toBe(true);
  });
});

test("an on-disk PGlite keeps its schema across restarts", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "promptline-pglite-"));
  try {
    const dataDir = path.join(dir, "pglite");
    const first = await createPgliteDb(dataDir);
    expect(await migrateToLatest(first)).toEqual(ALL_MIGRATIONS);
    const task = await insertTask(first);
    await first.destroy();

    const second = await createPgliteDb(dataDir);
    try {
      expect(await migrateToLatest(second)).toEqual([]);
      const again = await second.selectFrom("tasks").select(["id", "seq"]).executeTakeFirst();
      expect(again).toEqual({ id: task.id, seq: 1 });
    } finally {
      await second.destroy();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
