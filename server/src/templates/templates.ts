import type { Kysely } from "kysely";
import { isUniqueViolation } from "../db/errors.js";
import type { DB, TaskRow } from "../db/schema.js";
import {
  deleteTemplate,
  findTemplate,
  insertTemplate,
  listTemplates,
  type StoredTemplate,
  type TemplateFields,
  type TemplateListFilter,
  updateTemplate,
} from "../db/templates.js";
import { type ProviderRegistry, UnknownModelError } from "../llm/providers.js";
import { AlreadyExistsError, InvalidFieldError } from "../tasks/errors.js";
import type { CreateTaskInput, TaskLifecycle } from "../tasks/lifecycle.js";
import { StaleTemplateError, TemplateNotFoundError } from "./errors.js";

export interface TemplatesDeps {
  db: Kysely<DB>;
  tasks: TaskLifecycle;
  /** A template's model must be one a task could run on. */
  providers: ProviderRegistry;
}

/**
 * Prompt templates: stored in `templates`, run as ordinary tasks. Requests
 * arrive checked; this owns the transactions and the not-found, name-taken
 * and stale-etag outcomes.
 */
export class Templates {
  readonly #db: Kysely<DB>;
  readonly #tasks: TaskLifecycle;
  readonly #providers: ProviderRegistry;

  constructor(deps: TemplatesDeps) {
    this.#db = deps.db;
    this.#tasks = deps.tasks;
    this.#providers = deps.providers;
  }

  /** Stores a new template; `ownerId` is its creator, who (with admins) alone may change it. */
  async create(fields: TemplateFields, ownerId: string): Promise<StoredTemplate> {
    this.#checkModel(fields.model, "model");
    return nameTaken(fields.name, () => insertTemplate(this.#db, fields, ownerId));
  }

  async get(id: string): Promise<StoredTemplate> {
    const template = await findTemplate(this.#db, id);
    if (template === undefined) throw new TemplateNotFoundError(id);
    return template;
  }

  /** One page by name, and whether another follows. */
  async list(filter: TemplateListFilter): Promise<{ rows: StoredTemplate[]; more: boolean }> {
    const rows = await listTemplates(this.#db, filter);
    return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
  }

  /**
   * Applies `edit` to the template as stored, holding its row so that
   * concurrent edits apply one after the other. With `ifEtag`, refused when the
   * template changed since the caller read it.
   */
  async update(
    id: string,
    edit: (current: StoredTemplate) => TemplateFields,
    ifEtag: string | undefined,
  ): Promise<StoredTemplate> {
    return this.#db.transaction().execute(async (trx) => {
      const current = await findTemplate(trx, id, { forUpdate: true });
      if (current === undefined) throw new TemplateNotFoundError(id);
      if (ifEtag !== undefined && ifEtag !== current.etag) throw new StaleTemplateError(id);
      const fields = edit(current);
      this.#checkModel(fields.model, "template.model");
      return nameTaken(fields.name, () => updateTemplate(trx, id, fields));
    });
  }

  async delete(id: string, ifEtag: string | undefined): Promise<void> {
    if (await deleteTemplate(this.#db, id, ifEtag)) return;
    if ((await findTemplate(this.#db, id)) === undefined) throw new TemplateNotFoundError(id);
    throw new StaleTemplateError(id);
  }

  /** The model must resolve to a configured provider, as a task's must when it is created. */
  #checkModel(model: string, field: string): void {
    try {
      this.#providers.resolve(model);
    } catch (error) {
      if (error instanceof UnknownModelError) throw new InvalidFieldError(field, error.message);
      throw error;
    }
  }

  /** Creates a task from the template; `toTask` makes (and checks) the task's input from it. */
  async run(id: string, toTask: (template: StoredTemplate) => CreateTaskInput): Promise<TaskRow> {
    return this.#tasks.create(toTask(await this.get(id)));
  }
}

async function nameTaken<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error, "templates_name_key")) {
      throw new AlreadyExistsError("name", `a template named "${name}" already exists`);
    }
    throw error;
  }
}
