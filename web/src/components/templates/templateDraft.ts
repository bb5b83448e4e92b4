import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type {
  TaskParamsSchema,
  Template,
  TemplateDraftSchema,
  TemplateVariableSchema,
} from "@promptline/proto";
import { fieldErrorParts } from "../../errors";
import { formatMetadataPairs } from "../../metadataPairs";
import {
  type DraftErrors,
  emptyDraft,
  newRowKey,
  paramsDraft,
  paramsFromDraft,
  type TaskDraft,
  validateDraft,
} from "../../taskDraft";

/** The key in a task's metadata naming the template it was made from (RunTemplate sets it too). */
export const TEMPLATE_ID_KEY = "template_id";

type ParamKey = "temperature" | "topP" | "maxTokens" | "seed" | "stop";

/** What a person writes about one variable; the name comes from the prompts. */
export interface VariableInfo {
  description: string;
  /** Empty: no default, so a run must give a value. */
  defaultValue: string;
}

/** The template form's values, as typed. */
export interface TemplateFormDraft extends Pick<TaskDraft, ParamKey> {
  name: string;
  description: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  /** By variable name; kept when a variable leaves the prompt, so undoing an edit keeps it. */
  variables: Record<string, VariableInfo>;
}

/**
 * The form's fields by the names the server uses in InvalidArgument messages;
 * "variables" stands for every variable's row.
 */
export const TEMPLATE_FIELDS = [
  "name",
  "description",
  "prompt",
  "system_prompt",
  "model",
  "variables",
  "params",
  "temperature",
  "top_p",
  "max_tokens",
  "seed",
  "stop",
] as const;

export type TemplateField = (typeof TEMPLATE_FIELDS)[number];
export type TemplateErrors = Partial<Record<TemplateField, string>>;

// The server's rule (server/src/tasks/template.ts): `{{vars.<name>}}`, spaces allowed inside.
const VARIABLE = /\{\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variables the prompts use, each once, in the order they first appear. */
export function detectVariables(prompt: string, systemPrompt = ""): string[] {
  const names = new Set<string>();
  for (const text of [prompt, systemPrompt]) {
    for (const match of text.matchAll(VARIABLE)) if (match[1] !== undefined) names.add(match[1]);
  }
  return [...names];
}

export function emptyTemplateDraft(): TemplateFormDraft {
  const { temperature, topP, maxTokens, seed, stop } = emptyDraft();
  return {
    name: "",
    description: "",
    prompt: "",
    systemPrompt: "",
    model: "",
    variables: {},
    temperature,
    topP,
    maxTokens,
    seed,
    stop,
  };
}

/** A stored template as the form edits it. */
export function draftFromTemplate(template: Template): TemplateFormDraft {
  return {
    name: template.name,
    description: template.description,
    prompt: template.prompt,
    systemPrompt: template.systemPrompt,
    model: template.model,
    variables: Object.fromEntries(
      template.variables.map((v) => [
        v.name,
        { description: v.description, defaultValue: v.defaultValue ?? "" },
      ]),
    ),
    ...paramsDraft(template.params),
  };
}

/**
 * A new task's form filled in from a template: its prompts, model and
 * parameters, a row per variable holding its default, to fill in, and a
 * label naming the template, so the task links back to it as a run does.
 */
export function taskDraftFromTemplate(template: Template): TaskDraft {
  return {
    ...emptyDraft(),
    ...paramsDraft(template.params),
    metadata: formatMetadataPairs({ [TEMPLATE_ID_KEY]: template.id }),
    name: template.name,
    prompt: template.prompt,
    systemPrompt: template.systemPrompt,
    model: template.model,
    vars: template.variables.map((v) => ({
      key: newRowKey(),
      name: v.name,
      value: v.defaultValue ?? "",
    })),
  };
}

/** The variables as a request carries them: exactly those the prompts use. */
export function sentVariables(
  draft: Pick<TemplateFormDraft, "prompt" | "systemPrompt" | "variables">,
): Array<MessageInitShape<typeof TemplateVariableSchema>> {
  return detectVariables(draft.prompt, draft.systemPrompt).map((name) => {
    const info = draft.variables[name];
    const defaultValue = info?.defaultValue ?? "";
    return {
      name,
      description: info?.description.trim() ?? "",
      ...(defaultValue !== "" ? { defaultValue } : {}),
    };
  });
}

/** A template's fields as CreateTemplate (and, with an id, UpdateTemplate) takes them. */
export interface TemplateFieldsInit {
  name: string;
  description: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  params: MessageInitShape<typeof TaskParamsSchema>;
  variables: Array<MessageInitShape<typeof TemplateVariableSchema>>;
}

export function toTemplateRequest(draft: TemplateFormDraft): TemplateFieldsInit {
  return {
    name: draft.name.trim(),
    description: draft.description.trim(),
    prompt: draft.prompt,
    systemPrompt: draft.systemPrompt,
    model: draft.model,
    params: paramsFromDraft(draft),
    variables: sentVariables(draft),
  };
}

/** What RenderTemplate previews: the draft's prompts, as they are being edited. */
export function toRenderDraft(
  draft: TemplateFormDraft,
): MessageInitShape<typeof TemplateDraftSchema> {
  return {
    prompt: draft.prompt,
    systemPrompt: draft.systemPrompt,
    variables: sentVariables(draft),
  };
}

/** The obvious, before asking the server: the same wording as the task form where they overlap. */
export function validateTemplateDraft(draft: TemplateFormDraft): TemplateErrors {
  const errors: TemplateErrors = {};
  if (draft.name.trim() === "") errors.name = "Enter a name.";
  // The task form's rules for prompt, model and parameters.
  const task: DraftErrors = validateDraft({
    ...emptyDraft(),
    prompt: draft.prompt,
    model: draft.model,
    temperature: draft.temperature,
    topP: draft.topP,
    maxTokens: draft.maxTokens,
    seed: draft.seed,
    stop: draft.stop,
  });
  for (const key of ["prompt", "model", "temperature", "top_p", "max_tokens", "seed"] as const) {
    const reason = task[key];
    if (reason !== undefined) errors[key] = reason;
  }
  return errors;
}

const PARAM_FIELDS: Record<string, TemplateField> = {
  "params.temperature": "temperature",
  "params.top_p": "top_p",
  "params.max_tokens": "max_tokens",
  "params.seed": "seed",
  "params.stop": "stop",
};

/**
 * An InvalidArgument from CreateTemplate or UpdateTemplate, reason by field
 * (`template.prompt: …` on the prompt, `variables[2].name: …` on the
 * variables), and a taken name on the name; reasons that name nothing the
 * form has are returned apart.
 */
export function serverTemplateErrors(err: unknown): { errors: TemplateErrors; other: string[] } {
  const errors: TemplateErrors = {};
  const other: string[] = [];
  // A taken name is AlreadyExists, not InvalidArgument, but it belongs at the name all the same.
  if (err instanceof ConnectError && err.code === Code.AlreadyExists) {
    const taken = /^(?:template\.)?name: (.+)$/s.exec(err.rawMessage)?.[1];
    if (taken !== undefined) errors.name = taken;
  }
  for (const { path, reason } of fieldErrorParts(err)) {
    const bare = path?.replace(/^template\./, "");
    const field =
      bare === undefined
        ? undefined
        : (PARAM_FIELDS[bare.replace(/\[\d+\]$/, "")] ??
          (bare.startsWith("variables") ? "variables" : bare));
    if (isTemplateField(field)) {
      const previous = errors[field];
      errors[field] = previous === undefined ? reason : `${previous}; ${reason}`;
    } else {
      other.push(path === undefined ? reason : `${path}: ${reason}`);
    }
  }
  return { errors, other };
}

function isTemplateField(field: string | undefined): field is TemplateField {
  return TEMPLATE_FIELDS.some((f) => f === field);
}
