import { type Kysely, sql } from "kysely";
import { precompiled } from "./precompiled.js";
import { type ChainEdgeKind, type DB, TASK_COLUMNS, type TaskRow } from "./schema.js";

/** An upstream link to store for a new task (its parent link is kept by a trigger). */
export interface NewDependency {
  parentId: string;
  childId: string;
  name: string | undefined;
}

export async function insertDependencies(
  db: Kysely<DB>,
  deps: readonly NewDependency[],
): Promise<void> {
  if (deps.length === 0) return;
  await db
    .insertInto("task_chain_edges")
    .values(
      deps.map((d) => ({
        parent_id: d.parentId,
        child_id: d.childId,
        kind: "depends_on" as const,
        name: d.name ?? null,
      })),
    )
    // A parent that is also named as a dependency keeps its derived edge.
    .onConflict((oc) =>
      oc.columns(["parent_id", "child_id"]).doUpdateSet({ name: sql`excluded.name` }),
    )
    .execute();
}

/** One upstream task of `child_id` as its `depends_on` shows it. */
export interface DependencyRow {
  child_id: string;
  parent_id: string;
  name: string | null;
}

/**
 * The dependencies of `ids`, by child, then name, then id: every edge into
 * them but a parent's, unless the parent was also named as a dependency
 * (its edge stays `derived`, with the name). One read on the child index.
 */
export async function dependenciesOf(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<DependencyRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("task_chain_edges")
    .select(["child_id", "parent_id", "name"])
    .where("child_id", "in", ids)
    .where((eb) => eb.or([eb("kind", "=", "depends_on"), eb("name", "is not", null)]))
    .orderBy("child_id")
    .orderBy("name")
    .orderBy("parent_id")
    .execute();
}

const taskWithDependenciesStatement = precompiled(["id"], (db: Kysely<DB>, p: { id: string }) => {
  const columns = sql.join(TASK_COLUMNS.map((column) => sql.ref(`t.${column}`)));
  const query = sql<TaskRow & { dependencies: DependencyRow[] }>`
    select ${columns}, coalesce((
      select json_agg(json_build_object(
        'child_id', e.child_id, 'parent_id', e.parent_id, 'name', e.name
      ) order by e.name, e.parent_id)
      from task_chain_edges e
      where e.child_id = t.id and (e.kind = 'depends_on' or e.name is not null)
    ), '[]') as dependencies
    from tasks t where t.id = ${p.id}`;
  return { compile: () => query.compile(db) };
});

/**
 * A task and its dependencies ({@link dependenciesOf}'s order) in one round
 * trip: what a watch needs before its first message.
 */
export async function findTaskWithDependencies(
  db: Kysely<DB>,
  id: string,
): Promise<{ task: TaskRow; dependencies: DependencyRow[] } | undefined> {
  const [row] = await taskWithDependenciesStatement(db, { id });
  if (row === undefined) return undefined;
  const { dependencies, ...task } = row;
  return { task, dependencies };
}

/**
 * Of `ids`, the pending tasks every upstream of which has completed, and
 * whose run_at is due: ready to be enqueued.
 */
export async function readyToDispatch(db: Kysely<DB>, ids: readonly string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("tasks as t")
    .select(TASK_COLUMNS)
    .where("t.id", "in", ids)
    .where("t.status", "=", "pending")
    .where((eb) => eb.or([eb("t.run_at", "is", null), eb("t.run_at", "<=", sql<Date>`now()`)]))
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("task_chain_edges as e")
            .innerJoin("tasks as p", "p.id", "e.parent_id")
            .select("e.parent_id")
            .whereRef("e.child_id", "=", "t.id")
            .where("p.status", "<>", "completed"),
        ),
      ),
    )
    .execute();
}

/** The direct downstream tasks of `ids`. */
export async function childrenOf(db: Kysely<DB>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await childrenOfStatement(db, { ids });
  return rows.map((r) => r.child_id);
}

// Run after every completion: ids as one uuid[] parameter, so it compiles once.
const childrenOfStatement = precompiled(["ids"], (db: Kysely<DB>, p: { ids: readonly string[] }) =>
  db
    .selectFrom("task_chain_edges")
    .select("child_id")
    .distinct()
    .where(sql<boolean>`parent_id = any(${p.ids}::uuid[])`),
);

/**
 * Cancels, with UPSTREAM_FAILED naming the task that failed, every
 * unfinished task downstream of `failedId` (transitively), in one statement.
 */
export async function cancelDownstream(
  db: Kysely<DB>,
  failedId: string,
  reason: string,
): Promise<TaskRow[]> {
  const result = await sql<TaskRow>`
    with recursive downstream(id) as (
      select child_id from task_chain_edges where parent_id = ${failedId}
      union
      select e.child_id from task_chain_edges e join downstream d on e.parent_id = d.id
    )
    update tasks set
      status = 'cancelled',
      completed_at = now(),
      error_code = 'UPSTREAM_FAILED',
      error_message = ${reason},
      error_http_status = null
    where id in (select id from downstream) and status in ('pending', 'queued')
    returning ${sql.join(TASK_COLUMNS.map((column) => sql.ref(column)))}`.execute(db);
  return result.rows;
}

/** Of `ids`, those with an upstream task that failed or was cancelled, and which one. */
export async function blockedByFailure(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<Array<{ id: string; upstream_id: string; upstream_status: string }>> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("task_chain_edges as e")
    .innerJoin("tasks as p", "p.id", "e.parent_id")
    .select(["e.child_id as id", "p.id as upstream_id", "p.status as upstream_status"])
    .where("e.child_id", "in", ids)
    .where("p.status", "in", ["failed", "cancelled"])
    .execute();
}

/** What a prompt's references render from: parent output, named dependencies' outputs. */
export async function upstreamOutputs(
  db: Kysely<DB>,
  taskId: string,
): Promise<Array<{ kind: ChainEdgeKind; name: string | null; output: string }>> {
  return db
    .selectFrom("task_chain_edges as e")
    .innerJoin("tasks as p", "p.id", "e.parent_id")
    .select(["e.kind", "e.name", "p.output"])
    .where("e.child_id", "=", taskId)
    .execute();
}

export async function saveRenderedPrompt(
  db: Kysely<DB>,
  taskId: string,
  rendered: string,
): Promise<void> {
  await db
    .updateTable("tasks")
    .set({ rendered_prompt: rendered })
    .where("id", "=", taskId)
    .execute();
}

export interface LineageEdgeRow {
  parent_id: string;
  child_id: string;
  kind: ChainEdgeKind;
  name: string | null;
  depth: number;
}

/** Ancestors' and descendants' edges of a task, from the database's task_lineage function. */
export async function lineageEdges(db: Kysely<DB>, taskId: string): Promise<LineageEdgeRow[]> {
  const result = await sql<LineageEdgeRow>`select * from task_lineage(${taskId})`.execute(db);
  return result.rows;
}

/** Every task connected to `taskId` by edges in either direction (its whole graph). */
export async function connectedTaskIds(db: Kysely<DB>, taskId: string): Promise<string[]> {
  const result = await sql<{ id: string }>`
    with recursive component(id) as (
      select ${taskId}::uuid
      union
      select case when e.parent_id = c.id then e.child_id else e.parent_id end
      from task_chain_edges e join component c on e.parent_id = c.id or e.child_id = c.id
    )
    select id from component`.execute(db);
  return result.rows.map((r) => r.id);
}

/** Failed or cancelled tasks downstream of `taskId` go back to pending, waiting for it again. */
export async function resetDownstream(db: Kysely<DB>, taskId: string): Promise<TaskRow[]> {
  const result = await sql<TaskRow>`
    with recursive downstream(id) as (
      select child_id from task_chain_edges where parent_id = ${taskId}
      union
      select e.child_id from task_chain_edges e join downstream d on e.parent_id = d.id
    )
    update tasks set
      status = 'pending',
      completed_at = null,
      error_code = null,
      error_message = null,
      error_http_status = null,
      cancel_requested_at = null,
      output = '',
      rendered_prompt = null,
      series_start_attempt = attempts + 1
    where id in (select id from downstream) and status in ('failed', 'cancelled')
    returning ${sql.join(TASK_COLUMNS.map((column) => sql.ref(column)))}`.execute(db);
  return result.rows;
}
