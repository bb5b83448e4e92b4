import { type Kysely, type SelectQueryBuilder, sql } from "kysely";
import type { DB, TemplateRow } from "./schema.js";
import type { TaskParamsJson } from "./tasks.js";

/** A template variable as stored in `templates.variables`. */
export interface TemplateVariableJson {
  name: string;
  description: string;
  /** Absent: the variable is required. */
  default?: string;
}

/** What a template holds besides its id and timestamps. */
export interface TemplateFields {
  name: string;
  description: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  params: TaskParamsJson;
  variables: TemplateVariableJson[];
}

/**
 * A stored template, its jsonb columns typed, with its creator's user name
 * and its etag: `updated_at` in whole microseconds, the precision PostgreSQL
 * keeps (a JS Date would drop the last three digits).
 */
export type StoredTemplate = Omit<TemplateRow, "params" | "variables"> & {
  params: TaskParamsJson;
  variables: TemplateVariableJson[];
  created_by: string;
  etag: string;
};

// Only this module writes these columns, always in these shapes.
function stored(row: TemplateRow & { created_by: string; etag: string }): StoredTemplate {
  return {
    ...row,
    params: row.params as TaskParamsJson,
    variables: row.variables as unknown as TemplateVariableJson[],
  };
}

export interface TemplateListFilter {
  /** Substring of the name, case-insensitive. */
  nameContains: string | undefined;
  /** The last name of the previous page (names are unique). */
  afterName: string | undefined;
  limit: number;
}

// Microseconds since the epoch, as text: exact, and comparable in SQL.
function etagOf(column: "updated_at" | "t.updated_at") {
  return sql<string>`(extract(epoch from ${sql.ref(column)}) * 1000000)::bigint::text`;
}

/** Templates as `t`, each with its creator's name and its etag. */
function selectTemplates(db: Kysely<DB>) {
  return withCreator(db.selectFrom("templates as t"));
}

/**
 * Rows of `t` (the table, or a write's RETURNING as a CTE) with their
 * creator's name and etag: one statement, whichever way the rows came.
 */
function withCreator(from: SelectQueryBuilder<DB & { t: TemplateRow }, "t", object>) {
  return from
    .innerJoin("users as u", "u.id", "t.owner_id")
    .selectAll("t")
    .select(["u.name as created_by", etagOf("t.updated_at").as("etag")]);
}

function columns(fields: TemplateFields) {
  return {
    name: fields.name,
    description: fields.description,
    prompt: fields.prompt,
    system_prompt: fields.systemPrompt,
    model: fields.model,
    params: JSON.stringify(fields.params),
    variables: JSON.stringify(fields.variables),
  };
}

/** Stores a new template owned by `ownerId`, its creator. */
export async function insertTemplate(
  db: Kysely<DB>,
  fields: TemplateFields,
  ownerId: string,
): Promise<StoredTemplate> {
  // One statement: the insert, and its creator's name read alongside.
  return db
    .with("t", (qb) =>
      qb
        .insertInto("templates")
        .values({ ...columns(fields), owner_id: ownerId })
        .returningAll(),
    )
    .selectFrom("t")
    .$call(withCreator)
    .executeTakeFirstOrThrow()
    .then(stored);
}

export async function findTemplate(
  db: Kysely<DB>,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<StoredTemplate | undefined> {
  const query = selectTemplates(db).where("t.id", "=", id);
  // Only the template's row: its creator's stays free for others to read.
  const row = await (options.forUpdate === true ? query.forUpdate("t") : query).executeTakeFirst();
  return row === undefined ? undefined : stored(row);
}

/** Who created the template: its owner's id and name; undefined when there is no such template. */
export async function findTemplateOwner(
  db: Kysely<DB>,
  id: string,
): Promise<{ id: string; name: string } | undefined> {
  return db
    .selectFrom("templates as t")
    .innerJoin("users as u", "u.id", "t.owner_id")
    .select(["u.id", "u.name"])
    .where("t.id", "=", id)
    .executeTakeFirst();
}

/** One page by name; `limit + 1` rows are read so the caller knows whether more follow. */
export async function listTemplates(
  db: Kysely<DB>,
  filter: TemplateListFilter,
): Promise<StoredTemplate[]> {
  let query = selectTemplates(db);
  if (filter.nameContains !== undefined) {
    const pattern = `%${filter.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where("t.name", "ilike", pattern);
  }
  if (filter.afterName !== undefined) query = query.where("t.name", ">", filter.afterName);
  const rows = await query
    .orderBy("t.name")
    .limit(filter.limit + 1)
    .execute();
  return rows.map(stored);
}

/** Writes every field; the caller holds the row (see `findTemplate`'s `forUpdate`). */
export async function updateTemplate(
  db: Kysely<DB>,
  id: string,
  fields: TemplateFields,
): Promise<StoredTemplate> {
  return db
    .with("t", (qb) =>
      qb.updateTable("templates").set(columns(fields)).where("id", "=", id).returningAll(),
    )
    .selectFrom("t")
    .$call(withCreator)
    .executeTakeFirstOrThrow()
    .then(stored);
}

/** True when a row was deleted. With `ifEtag`, only while the template is still at that version. */
export async function deleteTemplate(
  db: Kysely<DB>,
  id: string,
  ifEtag: string | undefined,
): Promise<boolean> {
  let query = db.deleteFrom("templates").where("id", "=", id);
  if (ifEtag !== undefined) query = query.where(etagOf("updated_at"), "=", ifEtag);
  const result = await query.executeTakeFirst();
  return result.numDeletedRows > 0n;
}
