import { type Kysely, sql } from "kysely";
import type { DB } from "./schema.js";

export interface DeleteCompletedOptions {
  /** Tasks completed longer ago than this many days (by the database clock) go. */
  olderThanDays: number;
  /** Most rows this one statement deletes, so its locks stay short. */
  limit: number;
}

/**
 * Deletes one batch of completed tasks, oldest first, and returns how many
 * went. Attempts, events and edges cascade; a child's `parent_task_id` becomes
 * null through its foreign key. A task whose output a still-pending dependent
 * will render into its prompt (`{{parent.output}}`, `{{deps.…}}`) is kept.
 * Rows another transaction holds are skipped, not waited for.
 */
export async function deleteCompletedBatch(
  db: Kysely<DB>,
  options: DeleteCompletedOptions,
): Promise<number> {
  const doomed = db
    .selectFrom("tasks as t")
    .select("t.id")
    .where("t.status", "=", "completed")
    .where(
      "t.completed_at",
      "<",
      sql<Date>`now() - make_interval(days => ${options.olderThanDays})`,
    )
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom("task_chain_edges as e")
            .innerJoin("tasks as c", "c.id", "e.child_id")
            .select(sql.lit(1).as("one"))
            .whereRef("e.parent_id", "=", "t.id")
            .where("c.status", "=", "pending"),
        ),
      ),
    )
    .orderBy("t.completed_at")
    .limit(options.limit)
    .forUpdate()
    .skipLocked();
  // `= any(array(…))` rather than `in (…)`: the planner then deletes by primary
  // key instead of hash-joining the batch against the whole table.
  const result = await db
    .deleteFrom("tasks")
    .where(sql<boolean>`id = any(array(${doomed}))`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
