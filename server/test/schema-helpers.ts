import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { expect } from "vitest";
import type { DB, NewTaskRow, TaskRow } from "../src/db/schema.js";

/** Inserts a task with just enough to be valid; `values` override. */
export async function insertTask(
  db: Kysely<DB>,
  values: Partial<NewTaskRow> = {},
): Promise<TaskRow> {
  return db
    .insertInto("tasks")
    .values({ id: randomUUID(), prompt: "Say hi", model: "test/model", ...values })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The rejection of `promise`, or undefined when it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** Polls `probe` until it returns true, failing after `timeoutMs`. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The claim (claim_tasks, migration 0004) on any database: a pending task
 * whose job was faster than its creator goes through queued on the way to
 * running, with an event per move, and the creator's later mark is a no-op.
 */
export async function expectClaimThroughQueued(db: Kysely<DB>): Promise<void> {
  const { claimTasks } = await import("../src/db/task-writes.js");
  const early = await insertTask(db);
  const queued = await insertTask(db, { status: "queued" });
  const claims = await claimTasks(db, [early.id, queued.id, randomUUID()], "w1");
  expect([...claims.keys()].sort()).toEqual([early.id, queued.id].sort());
  for (const id of [early.id, queued.id]) {
    const claim = claims.get(id);
    expect(claim?.claimed).toBe(true);
    expect(claim?.task).toMatchObject({ status: "running", attempts: 1 });
  }
  const events = await db
    .selectFrom("task_events")
    .select(["seq", "from_status", "to_status"])
    .where("task_id", "=", early.id)
    .orderBy("seq")
    .execute();
  expect(events).toEqual([
    { seq: 1, from_status: null, to_status: "pending" },
    { seq: 2, from_status: "pending", to_status: "queued" },
    { seq: 3, from_status: "queued", to_status: "running" },
  ]);
  const attempts = await db
    .selectFrom("task_attempts")
    .select(["attempt", "worker_id"])
    .where("task_id", "=", early.id)
    .execute();
  expect(attempts).toEqual([{ attempt: 1, worker_id: "w1" }]);
  // A second delivery claims nothing and says why: the task is running.
  const again = await claimTasks(db, [early.id], "w2");
  expect(again.get(early.id)).toMatchObject({ claimed: false, task: { status: "running" } });
}
