import { randomUUID } from "node:crypto";
import { migrations } from "@promptline/migrations";
import { sql } from "kysely";
import { Migrator } from "kysely/migration";
import { expect, test } from "vitest";
import { LOCAL_USER } from "../src/auth/principal.js";
import { ensureUser } from "../src/db/auth.js";
import { createPgliteDb } from "../src/db/connection.js";
import { migrateToLatest } from "../src/db/migrate.js";
import {
  findTemplate,
  findTemplateOwner,
  insertTemplate,
  updateTemplate,
} from "../src/db/templates.js";
import { createTestDatabase } from "./db-fixture.js";

const fields = (name: string) => ({
  name,
  description: "",
  prompt: "Hi",
  systemPrompt: "",
  model: "simulator/echo",
  params: {},
  variables: [],
});

test("0003_template_owner: templates stored before it belong to the local user", async () => {
  const database = await createTestDatabase({ migrate: false });
  try {
    const migrator = new Migrator({
      db: database.db,
      provider: { getMigrations: async () => migrations },
    });
    expect((await migrator.migrateTo("0002_auth")).error).toBeUndefined();
    await sql`insert into templates (name, prompt, model) values ('old', 'Hi', 'simulator/echo')`.execute(
      database.db,
    );
    expect((await migrator.migrateToLatest()).error).toBeUndefined();

    const [old] = await database.db.selectFrom("templates").select(["id", "owner_id"]).execute();
    expect(old?.owner_id).toBe(LOCAL_USER.userId);
    expect((await findTemplate(database.db, old?.id ?? ""))?.created_by).toBe("local");
  } finally {
    await database.drop();
  }
});

test("a template is its creator's, named on every read, and a missing one has no owner", async () => {
  const database = await createTestDatabase();
  try {
    const alice = await ensureUser(database.db, `alice-${randomUUID().slice(0, 8)}`, "member");
    const stored = await insertTemplate(database.db, fields("mine"), alice.id);
    expect(stored).toMatchObject({ owner_id: alice.id, created_by: alice.name });
    expect(await findTemplate(database.db, stored.id)).toEqual(stored);
    expect(await findTemplateOwner(database.db, stored.id)).toEqual({
      id: alice.id,
      name: alice.name,
    });
    expect(await findTemplateOwner(database.db, randomUUID())).toBeUndefined();
  } finally {
    await database.drop();
  }
});

test("on embedded PGlite too: a write's RETURNING comes back with its creator", async () => {
  const db = await createPgliteDb();
  try {
    await migrateToLatest(db);
    const stored = await insertTemplate(db, fields("embedded"), LOCAL_USER.userId);
    expect(stored.created_by).toBe("local");
    const updated = await db.transaction().execute(async (trx) => {
      await findTemplate(trx, stored.id, { forUpdate: true });
      return updateTemplate(trx, stored.id, { ...fields("embedded"), prompt: "Hello" });
    });
    expect(updated).toMatchObject({ prompt: "Hello", created_by: "local" });
    expect(await findTemplate(db, stored.id)).toEqual(updated);
  } finally {
    await db.destroy();
  }
});
