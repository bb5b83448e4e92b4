import { type Kysely, sql } from "kysely";
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
 * A stored template, its jsonb columns typed, with its etag: `updated_at` in
 * whole microseconds, the precision PostgreSQL keeps (a JS Date would drop
 * the last three digits).
 */
export type StoredTemplate = Omit<TemplateRow, "params" | "variables"> & {
  params: TaskParamsJson;
  variables: TemplateVariableJson[];
  etag: string;
};

// Only this module writes these columns, always in these shapes.
function stored(row: TemplateRow & { etag: string }): StoredTemplate {
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
const etag = sql<string>`(extract(epoch from updated_at) * 1000000)::bigint::text`;

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

export async function insertTemplate(
  db: Kysely<DB>,
  fields: TemplateFields,
): Promise<StoredTemplate> {
  return db
    .insertInto("templates")
    .values(columns(fields))
    .returningAll()
    .returning(etag.as("etag"))
    .executeTakeFirstOrThrow()
    .then(stored);
}

export async function findTemplate(
  db: Kysely<DB>,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<StoredTemplate | undefined> {
  const query = db.selectFrom("templates").selectAll().select(etag.as("etag")).where("id", "=", id);
  const row = await (options.forUpdate === true ? query.forUpdate() : query).executeTakeFirst();
  return row === undefined ? undefined : stored(row);
}

/** One page by name; `limit + 1` rows are read so the caller knows whether more follow. */
export async function listTemplates(
  db: Kysely<DB>,
  filter: TemplateListFilter,
): Promise<StoredTemplate[]> {
  let query = db.selectFrom("templates").selectAll().select(etag.as("etag"));
  if (filter.nameContains !== undefined) {
    const pattern = `%${filter.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where("name", "ilike", pattern);
  }
  if (filter.afterName !== undefined) query = query.where("name", ">", filter.afterName);
  const rows = await query
    .orderBy("name")
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
    .updateTable("templates")
    .set(columns(fields))
    .where("id", "=", id)
    .returningAll()
    .returning(etag.as("etag"))
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
  if (ifEtag !== undefined) query = query.where(etag, "=", ifEtag);
  const result = await query.executeTakeFirst();
  return result.numDeletedRows > 0n;
}
