import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
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
