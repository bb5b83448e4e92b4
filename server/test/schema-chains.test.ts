import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { describe, expect } from "vitest";
import type { DB, TaskLineageRow } from "../src/db/schema.js";
import { dbTest } from "./db-fixture.js";
import { insertTask, waitUntil } from "./schema-helpers.js";

async function edgesOf(db: Kysely<DB>, taskIds: string[]) {
  return db
    .selectFrom("task_chain_edges")
    .selectAll()
    .where((eb) => eb.or([eb("parent_id", "in", taskIds), eb("child_id", "in", taskIds)]))
    .orderBy("parent_id")
    .orderBy("child_id")
    .execute();
}

async function taskOf(db: Kysely<DB>, id: string) {
  return db
    .selectFrom("tasks")
    .select(["id", "parent_task_id", "chain_id"])
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
}

async function lineage(db: Kysely<DB>, root: string): Promise<TaskLineageRow[]> {
  const result = await sql<TaskLineageRow>`select * from task_lineage(${root})`.execute(db);
  return result.rows;
}

describe("parent_task_id and derived edges", () => {
  dbTest(
    "a task made from a parent gets the derived edge and joins the parent's chain",
    async ({ db }) => {
      const parent = await insertTask(db, { name: "summarise" });
      expect(parent.chain_id).toBeNull();
      const child = await insertTask(db, { parent_task_id: parent.id });
      const sibling = await insertTask(db, { parent_task_id: parent.id });

      const chainId = (await taskOf(db, parent.id)).chain_id;
      expect(chainId).not.toBeNull();
      expect(child.chain_id).toBe(chainId);
      expect(sibling.chain_id).toBe(chainId);
      const chain = await db
        .selectFrom("task_chains")
        .selectAll()
        .where("id", "=", chainId)
        .executeTakeFirst();
      expect(chain?.name).toBe("summarise");
      expect(await edgesOf(db, [child.id, sibling.id])).toEqual(
        [child.id, sibling.id].sort().map((childId) => ({
          chain_id: chainId,
          parent_id: parent.id,
          child_id: childId,
          kind: "derived",
          name: null,
        })),
      );
    },
  );

  dbTest("moving or clearing parent_task_id moves or removes the edge", async ({ db }) => {
    const first = await insertTask(db);
    const second = await insertTask(db);
    const child = await insertTask(db, { parent_task_id: first.id });

    await db
      .updateTable("tasks")
      .set({ parent_task_id: second.id })
      .where("id", "=", child.id)
      .execute();
    const secondChain = (await taskOf(db, second.id)).chain_id;
    expect(await taskOf(db, child.id)).toMatchObject({
      parent_task_id: second.id,
      chain_id: secondChain,
    });
    expect(await edgesOf(db, [child.id])).toMatchObject([
      { parent_id: second.id, child_id: child.id, kind: "derived", chain_id: secondChain },
    ]);

    await db
      .updateTable("tasks")
      .set({ parent_task_id: null })
      .where("id", "=", child.id)
      .execute();
    expect(await edgesOf(db, [child.id])).toEqual([]);
  });

  dbTest(
    "a derived edge written with plain SQL sets the child's parent, and deleting it clears it",
    async ({ db }) => {
      const parent = await insertTask(db);
      const child = await insertTask(db);
      await sql`
      insert into task_chain_edges (parent_id, child_id, kind) values (${parent.id}, ${child.id}, 'derived')
    `.execute(db);
      const parentChain = (await taskOf(db, parent.id)).chain_id;
      expect(parentChain).not.toBeNull();
      expect(await taskOf(db, child.id)).toMatchObject({
        parent_task_id: parent.id,
        chain_id: parentChain,
      });
      expect(await edgesOf(db, [child.id])).toMatchObject([
        { kind: "derived", chain_id: parentChain },
      ]);

      await sql`delete from task_chain_edges where parent_id = ${parent.id} and child_id = ${child.id}`.execute(
        db,
      );
      expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: null });
      expect(await edgesOf(db, [child.id])).toEqual([]);
    },
  );

  dbTest("a second derived edge moves the child: one parent, one derived edge", async ({ db }) => {
    const first = await insertTask(db);
    const second = await insertTask(db);
    const child = await insertTask(db, { parent_task_id: first.id });
    await sql`
      insert into task_chain_edges (parent_id, child_id, kind) values (${second.id}, ${child.id}, 'derived')
    `.execute(db);
    expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: second.id });
    expect(await edgesOf(db, [child.id])).toMatchObject([
      { parent_id: second.id, kind: "derived" },
    ]);
  });

  dbTest(
    "turning a derived edge into depends_on clears the parent; and back sets it",
    async ({ db }) => {
      const parent = await insertTask(db);
      const child = await insertTask(db, { parent_task_id: parent.id });
      await sql`update task_chain_edges set kind = 'depends_on' where child_id = ${child.id}`.execute(
        db,
      );
      expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: null });
      expect(await edgesOf(db, [child.id])).toMatchObject([
        { parent_id: parent.id, kind: "depends_on" },
      ]);
      await sql`update task_chain_edges set kind = 'derived' where child_id = ${child.id}`.execute(
        db,
      );
      expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: parent.id });
    },
  );

  dbTest("depends_on edges never touch parent_task_id", async ({ db }) => {
    const upstream = await insertTask(db);
    const parent = await insertTask(db);
    const child = await insertTask(db, { parent_task_id: parent.id });
    await db
      .insertInto("task_chain_edges")
      .values({ parent_id: upstream.id, child_id: child.id, kind: "depends_on", name: "facts" })
      .execute();
    expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: parent.id });
    await db.deleteFrom("task_chain_edges").where("parent_id", "=", upstream.id).execute();
    expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: parent.id });
    expect(await edgesOf(db, [child.id])).toMatchObject([
      { parent_id: parent.id, kind: "derived" },
    ]);
  });

  dbTest("deleting the parent task clears the child's parent and the edge", async ({ db }) => {
    const parent = await insertTask(db);
    const child = await insertTask(db, { parent_task_id: parent.id });
    await db.deleteFrom("tasks").where("id", "=", parent.id).execute();
    expect(await taskOf(db, child.id)).toMatchObject({ parent_task_id: null });
    expect(await edgesOf(db, [child.id])).toEqual([]);
  });

  dbTest("one INSERT of a child before its parent still links and chains both", async ({ db }) => {
    const parentId = randomUUID();
    const childId = randomUUID();
    await db
      .insertInto("tasks")
      .values([
        { id: childId, prompt: "child", model: "m", parent_task_id: parentId },
        { id: parentId, prompt: "parent", model: "m" },
      ])
      .execute();
    const parent = await taskOf(db, parentId);
    expect(parent.chain_id).not.toBeNull();
    expect(await taskOf(db, childId)).toMatchObject({
      parent_task_id: parentId,
      chain_id: parent.chain_id,
    });
    expect(await edgesOf(db, [childId])).toMatchObject([
      { parent_id: parentId, chain_id: parent.chain_id },
    ]);
  });

  dbTest(
    "two children of a chainless parent created at once end up in one chain",
    async ({ db }) => {
      const parent = await insertTask(db, { name: `race-${randomUUID()}` });
      let releaseFirst = () => {};
      const firstMayCommit = new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      let firstInserted = () => {};
      const firstHasInserted = new Promise<void>((resolve) => {
        firstInserted = resolve;
      });

      const first = db.transaction().execute(async (trx) => {
        const child = await insertTask(trx, { parent_task_id: parent.id });
        firstInserted();
        await firstMayCommit;
        return child;
      });
      await firstHasInserted;
      const second = db
        .transaction()
        .execute((trx) => insertTask(trx, { parent_task_id: parent.id }));
      await waitUntil(async () => {
        const waiting = await sql<{ waiting: number }>`
        select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'
      `.execute(db);
        return (waiting.rows[0]?.waiting ?? 0) > 0;
      }, "the second insert to wait for the first");
      releaseFirst();
      const [a, b] = await Promise.all([first, second]);

      const chainId = (await taskOf(db, parent.id)).chain_id;
      expect(a.chain_id).toBe(chainId);
      expect(b.chain_id).toBe(chainId);
      const chains = await db
        .selectFrom("task_chains")
        .select("id")
        .where("name", "=", parent.name)
        .execute();
      expect(chains).toEqual([{ id: chainId }]);
    },
  );

  dbTest("a task cannot be its own parent", async ({ db }) => {
    const task = await insertTask(db);
    await expect(
      db.updateTable("tasks").set({ parent_task_id: task.id }).where("id", "=", task.id).execute(),
    ).rejects.toMatchObject({ code: "23514", constraint: "tasks_parent_not_self_check" });
  });
});

describe("task_lineage", () => {
  /** a -derived-> b, a -depends_on-> c, b -> d, c -> d (a diamond), d -> e; x is unrelated. */
  async function smallDag(db: Kysely<DB>) {
    const a = await insertTask(db, { name: "a" });
    const b = await insertTask(db, { name: "b", parent_task_id: a.id });
    const c = await insertTask(db, { name: "c" });
    const d = await insertTask(db, { name: "d" });
    const e = await insertTask(db, { name: "e", parent_task_id: d.id });
    const x = await insertTask(db, { name: "x" });
    await db
      .insertInto("task_chain_edges")
      .values([
        { parent_id: a.id, child_id: c.id, kind: "depends_on", name: "first" },
        { parent_id: b.id, child_id: d.id, kind: "depends_on", name: "left" },
        { parent_id: c.id, child_id: d.id, kind: "depends_on", name: "right" },
      ])
      .execute();
    return { a: a.id, b: b.id, c: c.id, d: d.id, e: e.id, x: x.id };
  }

  dbTest("returns ancestors (negative depth) and descendants (positive depth)", async ({ db }) => {
    const t = await smallDag(db);
    const names = new Map(Object.entries(t).map(([name, id]) => [id, name]));
    const readable = (rows: TaskLineageRow[]) =>
      rows
        .map(
          (r) =>
            `${names.get(r.parent_id)}->${names.get(r.child_id)} ${r.kind} ${r.name ?? "-"} ${r.depth}`,
        )
        .sort();

    expect(readable(await lineage(db, t.d))).toEqual([
      "a->b derived - -2",
      "a->c depends_on first -2",
      "b->d depends_on left -1",
      "c->d depends_on right -1",
      "d->e derived - 1",
    ]);
    expect(readable(await lineage(db, t.a))).toEqual([
      "a->b derived - 1",
      "a->c depends_on first 1",
      "b->d depends_on left 2",
      "c->d depends_on right 2",
      "d->e derived - 3",
    ]);
    expect(readable(await lineage(db, t.e))).toEqual([
      "a->b derived - -3",
      "a->c depends_on first -3",
      "b->d depends_on left -2",
      "c->d depends_on right -2",
      "d->e derived - -1",
    ]);
    expect(await lineage(db, t.x)).toEqual([]);
  });

  dbTest("ends on a cycle", async ({ db }) => {
    const t = await smallDag(db);
    await db
      .insertInto("task_chain_edges")
      .values({ parent_id: t.e, child_id: t.a, kind: "depends_on" })
      .execute();
    const rows = await lineage(db, t.d);
    const edge = (p: string, c: string) =>
      rows.filter((r) => r.parent_id === p && r.child_id === c);
    expect(edge(t.e, t.a).map((r) => r.depth)).toEqual([-3, 2]);
    expect(edge(t.d, t.e).map((r) => r.depth)).toEqual([-4, 1]);
  });

  dbTest("a deep ladder of diamonds costs nodes x depth, not one row per path", async ({ db }) => {
    const rungs = 40;
    const bottom = await insertTask(db, { name: "rung 0" });
    let top = bottom.id;
    for (let i = 1; i <= rungs; i++) {
      const left = await insertTask(db);
      const right = await insertTask(db);
      const next = await insertTask(db, { name: `rung ${i}` });
      await db
        .insertInto("task_chain_edges")
        .values([
          { parent_id: top, child_id: left.id, kind: "depends_on" },
          { parent_id: top, child_id: right.id, kind: "depends_on" },
          { parent_id: left.id, child_id: next.id, kind: "depends_on" },
          { parent_id: right.id, child_id: next.id, kind: "depends_on" },
        ])
        .execute();
      top = next.id;
    }
    // 2^40 paths: only a walk that deduplicates finishes inside the timeout.
    const rows = await db.transaction().execute(async (trx) => {
      await sql`set local statement_timeout = '10s'`.execute(trx);
      return lineage(trx, bottom.id);
    });
    expect(rows).toHaveLength(4 * rungs);
    expect(Math.max(...rows.map((r) => r.depth))).toBe(2 * rungs);
    expect(await lineage(db, top)).toHaveLength(4 * rungs);
  });
});
