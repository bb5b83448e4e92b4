import { create } from "@bufbuild/protobuf";
import {
  CreateTaskRequestSchema,
  type CreateTemplateRequest,
  type DeleteTemplateRequest,
  type ListTemplatesRequest,
  type RenderTemplateRequest,
  type RunTemplateRequest,
  type TaskParams,
  type TemplateVariable,
  type UpdateTemplateRequest,
} from "@promptline/proto";
import type {
  StoredTemplate,
  TemplateFields,
  TemplateListFilter,
  TemplateVariableJson,
} from "../db/templates.js";
import { InvalidFieldError } from "../tasks/errors.js";
import type { CreateTaskInput } from "../tasks/lifecycle.js";
import {
  parseReferences,
  REFERENCE_NAME,
  type TemplateRefs,
  UnknownReferenceError,
} from "../tasks/template.js";
import type { RenderableTemplate } from "../templates/render.js";
import { resolveVars } from "../templates/render.js";
import { paramsToProto } from "./convert.js";
import { variableToProto } from "./template-convert.js";
import { LIMITS, maxBytes, parseCreateTask, parseUuid } from "./validation.js";

/** Template rules beyond the task rules they share (prompt, model, params). */
export const TEMPLATE_LIMITS = {
  nameChars: 200,
  descriptionChars: 2_000,
  variableDescriptionChars: 500,
} as const;

const PAGE_TOKEN = "n1:";
const UPDATABLE = [
  "name",
  "description",
  "prompt",
  "system_prompt",
  "model",
  "params",
  "variables",
] as const;

function fail(field: string, reason: string): never {
  throw new InvalidFieldError(field, reason);
}

/** A template id (see {@link parseUuid}). */
export function parseTemplateId(value: string, field = "id"): string {
  return parseUuid(value, field, "template");
}

/** What a create or an update asks a template to hold, in proto form. */
interface TemplateMessage {
  name: string;
  description: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  params?: TaskParams | undefined;
  variables: readonly TemplateVariable[];
}

/**
 * A whole template, checked: its prompt, system prompt, model and params by
 * CreateTask's rules (a template is a task waiting for its variables), and
 * its variables exactly the `{{vars.<name>}}` its prompts use. `prefix` goes
 * before each field name (`template.` for UpdateTemplate).
 */
function parseTemplate(msg: TemplateMessage, prefix = ""): TemplateFields {
  const name = msg.name.trim();
  if (name === "") fail(`${prefix}name`, "must not be empty");
  if (name.length > TEMPLATE_LIMITS.nameChars) {
    fail(`${prefix}name`, `must be at most ${TEMPLATE_LIMITS.nameChars} characters`);
  }
  if (msg.description.length > TEMPLATE_LIMITS.descriptionChars) {
    fail(`${prefix}description`, `must be at most ${TEMPLATE_LIMITS.descriptionChars} characters`);
  }
  const variables = parseVariables(msg.variables, `${prefix}variables`);
  const used = usedVariables(msg, prefix);
  let task: CreateTaskInput;
  try {
    task = parseCreateTask(
      create(CreateTaskRequestSchema, {
        prompt: msg.prompt,
        systemPrompt: msg.systemPrompt,
        model: msg.model,
        params: msg.params,
        // Stand-ins: which variables must exist is this function's rule, below.
        vars: Object.fromEntries([...used].map((name) => [name, ""])),
      }),
      "",
    );
  } catch (error) {
    if (error instanceof InvalidFieldError) fail(`${prefix}${error.field}`, error.reason);
    throw error;
  }
  checkVariablesUsed(msg, variables, prefix);
  return {
    name,
    description: msg.description,
    prompt: task.prompt,
    systemPrompt: task.systemPrompt,
    model: task.model,
    params: task.params,
    variables,
  };
}

function parseVariables(given: readonly TemplateVariable[], field: string): TemplateVariableJson[] {
  if (given.length > LIMITS.vars) fail(field, `must have at most ${LIMITS.vars} variables`);
  const seen = new Set<string>();
  return given.map((v, i) => {
    const at = `${field}[${i}]`;
    if (!REFERENCE_NAME.test(v.name) || v.name.length > LIMITS.refChars) {
      fail(
        `${at}.name`,
        `must be 1-${LIMITS.refChars} letters, digits or '_', starting with a letter or '_'`,
      );
    }
    if (seen.has(v.name)) fail(`${at}.name`, `repeats the variable ${v.name}`);
    seen.add(v.name);
    if (v.description.length > TEMPLATE_LIMITS.variableDescriptionChars) {
      fail(
        `${at}.description`,
        `must be at most ${TEMPLATE_LIMITS.variableDescriptionChars} characters`,
      );
    }
    if (v.defaultValue !== undefined) {
      maxBytes(`${at}.default_value`, v.defaultValue, LIMITS.promptBytes);
    }
    return v.defaultValue === undefined
      ? { name: v.name, description: v.description }
      : { name: v.name, description: v.description, default: v.defaultValue };
  });
}

/**
 * The variables the prompts use. A template runs on its own, so upstream
 * output is refused here; a malformed reference is left for the shared
 * prompt rules to report.
 */
function usedVariables(msg: Pick<TemplateMessage, "prompt" | "systemPrompt">, prefix: string) {
  const used = new Set<string>();
  for (const [field, text] of [
    ["prompt", msg.prompt],
    ["system_prompt", msg.systemPrompt],
  ] as const) {
    let refs: TemplateRefs;
    try {
      refs = parseReferences(text);
    } catch (error) {
      if (error instanceof UnknownReferenceError) continue;
      throw error;
    }
    if (refs.parent || refs.deps.size > 0) {
      fail(`${prefix}${field}`, "a template may use only {{vars.<name>}}, not upstream output");
    }
    for (const name of refs.vars) used.add(name);
  }
  return used;
}

/** The prompts may use only declared variables, and every declared variable is used. */
function checkVariablesUsed(
  msg: Pick<TemplateMessage, "prompt" | "systemPrompt">,
  variables: readonly TemplateVariableJson[],
  prefix: string,
): void {
  const declared = new Set(variables.map((v) => v.name));
  const used = new Set<string>();
  for (const [field, text] of [
    ["prompt", msg.prompt],
    ["system_prompt", msg.systemPrompt],
  ] as const) {
    const refs = references(`${prefix}${field}`, text);
    if (refs.parent || refs.deps.size > 0) {
      fail(`${prefix}${field}`, "a template may use only {{vars.<name>}}, not upstream output");
    }
    for (const name of refs.vars) {
      if (!declared.has(name)) {
        fail(`${prefix}${field}`, `uses {{vars.${name}}} but variables has no ${name}`);
      }
      used.add(name);
    }
  }
  variables.forEach((v, i) => {
    if (!used.has(v.name)) {
      fail(`${prefix}variables[${i}].name`, `${v.name} is not used in prompt or system_prompt`);
    }
  });
}

function references(field: string, text: string) {
  try {
    return parseReferences(text);
  } catch (error) {
    if (error instanceof UnknownReferenceError) fail(field, error.message);
    throw error;
  }
}

export function parseCreateTemplate(req: CreateTemplateRequest): TemplateFields {
  return parseTemplate(req);
}

/** A stored template in the form a request carries it, so an edit can start from it. */
function asMessage(stored: StoredTemplate): TemplateMessage {
  return {
    name: stored.name,
    description: stored.description,
    prompt: stored.prompt,
    systemPrompt: stored.system_prompt,
    model: stored.model,
    params: paramsToProto(stored.params),
    variables: stored.variables.map(variableToProto),
  };
}

/**
 * UpdateTemplate: which template, the etag to hold it to, and the edit — the
 * masked fields laid over the stored template, then the whole checked again.
 */
export function parseUpdateTemplate(req: UpdateTemplateRequest): {
  id: string;
  ifEtag: string | undefined;
  edit: (current: StoredTemplate) => TemplateFields;
} {
  const given = req.template;
  if (given === undefined) fail("template", "is required");
  const id = parseTemplateId(given.id, "template.id");
  const paths = req.updateMask?.paths ?? [];
  paths.forEach((path, i) => {
    if (!UPDATABLE.some((field) => field === path)) {
      fail(`update_mask.paths[${i}]`, `"${path}" is not one of ${UPDATABLE.join(", ")}`);
    }
  });
  const changes = new Set(paths.length === 0 ? UPDATABLE : paths);
  return {
    id,
    ifEtag: given.etag === "" ? undefined : given.etag,
    edit: (current) => {
      const base = asMessage(current);
      const pick = <K extends keyof TemplateMessage>(key: K, path: string): TemplateMessage[K] =>
        changes.has(path) ? given[key] : base[key];
      return parseTemplate(
        {
          name: pick("name", "name"),
          description: pick("description", "description"),
          prompt: pick("prompt", "prompt"),
          systemPrompt: pick("systemPrompt", "system_prompt"),
          model: pick("model", "model"),
          params: pick("params", "params"),
          variables: pick("variables", "variables"),
        },
        "template.",
      );
    },
  };
}

export function parseDeleteTemplate(req: DeleteTemplateRequest): {
  id: string;
  ifEtag: string | undefined;
} {
  return { id: parseTemplateId(req.id), ifEtag: req.etag === "" ? undefined : req.etag };
}

export function parseListTemplates(req: ListTemplatesRequest): TemplateListFilter {
  if (req.pageSize < 0 || req.pageSize > LIMITS.pageSizeMax) {
    fail(
      "page_size",
      `must be from 1 to ${LIMITS.pageSizeMax} (0 means ${LIMITS.pageSizeDefault})`,
    );
  }
  const query = req.query.trim();
  if (query.length > LIMITS.queryChars)
    fail("query", `must be at most ${LIMITS.queryChars} characters`);
  let afterName: string | undefined;
  if (req.pageToken !== "") {
    const decoded = Buffer.from(req.pageToken, "base64url").toString();
    if (!decoded.startsWith(PAGE_TOKEN)) fail("page_token", "is not a token from a previous page");
    afterName = decoded.slice(PAGE_TOKEN.length);
  }
  return {
    nameContains: query === "" ? undefined : query,
    afterName,
    limit: req.pageSize === 0 ? LIMITS.pageSizeDefault : req.pageSize,
  };
}

/** Opaque to clients: the last name of the page, versioned so the format can change. */
export function encodeTemplatePageToken(lastName: string): string {
  return Buffer.from(PAGE_TOKEN + lastName).toString("base64url");
}

/** RenderTemplate's source: a stored template's id, or a draft checked like a template's prompts. */
export function parseRenderTemplate(
  req: RenderTemplateRequest,
): { id: string } | { draft: RenderableTemplate } {
  checkVarValues(req.vars);
  switch (req.source.case) {
    case "id":
      return { id: parseTemplateId(req.source.value) };
    case "draft": {
      const draft = req.source.value;
      maxBytes("draft.prompt", draft.prompt, LIMITS.promptBytes);
      maxBytes("draft.system_prompt", draft.systemPrompt, LIMITS.systemPromptBytes);
      const variables = parseVariables(draft.variables, "draft.variables");
      checkVariablesUsed(draft, variables, "draft.");
      return { draft: { prompt: draft.prompt, systemPrompt: draft.systemPrompt, variables } };
    }
    default:
      return fail("source", "give an id or a draft");
  }
}

/**
 * RunTemplate's template id, once its other fields pass what can be checked
 * without the template (the task it makes is checked in full by CreateTask's
 * rules when the template is read).
 */
export function parseRunTemplate(req: RunTemplateRequest): string {
  checkVarValues(req.vars);
  if (req.name.length > LIMITS.nameChars) {
    fail("name", `must be at most ${LIMITS.nameChars} characters`);
  }
  if (req.idempotencyKey.length > LIMITS.idempotencyKeyChars) {
    fail("idempotency_key", `must be at most ${LIMITS.idempotencyKeyChars} characters`);
  }
  return parseTemplateId(req.id);
}

/** Values for variables, as RenderTemplate and RunTemplate take them: as many and as large as a task's. */
function checkVarValues(vars: Record<string, string>): void {
  const entries = Object.entries(vars);
  if (entries.length > LIMITS.vars) fail("vars", `must have at most ${LIMITS.vars} entries`);
  for (const [name, value] of entries) {
    if (!REFERENCE_NAME.test(name)) {
      fail("vars", `name "${name.slice(0, LIMITS.refChars)}" must be letters, digits or '_'`);
    }
    maxBytes(`vars.${name}`, value, LIMITS.promptBytes);
  }
}

/** A stored template's renderable parts. */
export function renderable(stored: StoredTemplate): RenderableTemplate {
  return {
    prompt: stored.prompt,
    systemPrompt: stored.system_prompt,
    variables: stored.variables,
  };
}

/**
 * RunTemplate's task: the template's prompt, model and params with the
 * variables' values, checked by CreateTask's rules. The prompt is stored
 * unrendered with the values in `vars`, rendered at dispatch like any task's,
 * and `metadata.template_id` records where it came from.
 */
export function taskFromTemplate(
  req: RunTemplateRequest,
  template: StoredTemplate,
  requestId: string,
): CreateTaskInput {
  const vars = resolveVars(renderable(template), req.vars);
  return parseCreateTask(
    create(CreateTaskRequestSchema, {
      name: req.name === "" ? template.name : req.name,
      prompt: template.prompt,
      systemPrompt: template.system_prompt,
      model: template.model,
      params: paramsToProto(template.params),
      priority: req.priority,
      idempotencyKey: req.idempotencyKey,
      vars,
      metadata: { template_id: template.id },
    }),
    requestId,
  );
}
