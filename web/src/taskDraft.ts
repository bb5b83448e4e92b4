import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type CreateTaskRequestSchema,
  type Task,
  type TaskParams,
  type TaskParamsSchema,
  TaskPriority,
} from "@promptline/proto";
import { formatMetadataPairs, parseMetadataPairs } from "./metadataPairs";

/** The create form's values, as typed (numbers stay strings until submit). */
export interface TaskDraft {
  name: string;
  prompt: string;
  systemPrompt: string;
  model: string;
  priority: TaskPriority;
  temperature: string;
  topP: string;
  maxTokens: string;
  seed: string;
  /** Stop sequences, one per line. */
  stop: string;
  /** The task this one is made from ("use as new task"); "" for none. */
  parentTaskId: string;
  /** Tasks to wait for, in the order shown. */
  dependsOn: DependencyDraft[];
  /** Values for `{{vars.<name>}}`, in the order shown. */
  vars: VarDraft[];
  /** When to run, as a `datetime-local` value in the viewer's time zone; "" runs it now. */
  runAt: string;
  /** Labels stored as the task's metadata, as `key:value` pairs separated by spaces. */
  metadata: string;
}

/** One "wait for this task" row of the form. */
export interface DependencyDraft {
  /** Identifies the row while it is edited: React key, error key, control ids. */
  key: string;
  /** A task id, or a link to a task's page (the id is taken from it). */
  taskId: string;
  /** How the prompt refers to it: `{{deps.<name>.output}}`; may be empty. */
  name: string;
}

/** One variable row of the form. */
export interface VarDraft {
  key: string;
  name: string;
  value: string;
}

let rowCount = 0;

/** A key for a new dependency or variable row, unique in this page's life. */
export function newRowKey(): string {
  rowCount += 1;
  return `row${rowCount}`;
}

/**
 * The form's fields by the names the server uses in InvalidArgument messages
 * (`prompt: must not be empty`, `params.max_tokens: …`); "params" is the
 * parameters group as a whole.
 */
export const DRAFT_FIELDS = [
  "name",
  "parent_task_id",
  "prompt",
  "system_prompt",
  "depends_on",
  "vars",
  "model",
  "priority",
  "params",
  "temperature",
  "top_p",
  "max_tokens",
  "seed",
  "stop",
  "run_at",
  "metadata",
] as const;

/** A field of the create form, named as the server names it. */
export type DraftField = (typeof DRAFT_FIELDS)[number];

/** A part of one dependency or variable row that can be wrong. */
export type RowErrorKey =
  | `depends_on.${string}.${"task_id" | "name"}`
  | `vars.${string}.${"name" | "value"}`;

/** The error key of a row's part, e.g. `depends_on.row3.task_id`. */
export function rowErrorKey(
  section: "depends_on",
  rowKey: string,
  part: "task_id" | "name",
): RowErrorKey;
export function rowErrorKey(section: "vars", rowKey: string, part: "name" | "value"): RowErrorKey;
export function rowErrorKey(section: string, rowKey: string, part: string): string {
  return `${section}.${rowKey}.${part}`;
}

/**
 * Reasons that a draft can't be sent: per field (a whole section, for
 * `depends_on` and `vars`) and per row part ({@link rowErrorKey}).
 */
export type DraftErrors = Partial<Record<DraftField | RowErrorKey, string>>;

/** A blank form: normal priority, no model chosen, every parameter left to the model. */
export function emptyDraft(): TaskDraft {
  return {
    name: "",
    prompt: "",
    systemPrompt: "",
    model: "",
    priority: TaskPriority.NORMAL,
    temperature: "",
    topP: "",
    maxTokens: "",
    seed: "",
    stop: "",
    parentTaskId: "",
    dependsOn: [],
    vars: [],
    runAt: "",
    metadata: "",
  };
}

/** How a parent's output gets into the new task's prompt. */
export type ParentOutputMode = "reference" | "paste";

/** The reference the server fills in with the parent's output when the task runs. */
export const PARENT_OUTPUT = "{{parent.output}}";
const PARENT_OUTPUT_PATTERN = /\{\{\s*parent\.output\s*\}\}/;

/**
 * A draft made from an existing task. `child` ("use as new task") makes the
 * task its parent, with the prompt taking the parent's output as a reference
 * or pasted in; `duplicate` copies it as it was, without a parent. Both keep
 * the model, parameters, system message and priority.
 */
export function draftFromTask(
  task: Task,
  kind: "child" | "duplicate",
  outputMode: ParentOutputMode = "reference",
): TaskDraft {
  const shared = {
    ...emptyDraft(),
    ...paramsDraft(task.params),
    systemPrompt: task.systemPrompt,
    model: task.model,
    priority: task.priority === TaskPriority.UNSPECIFIED ? TaskPriority.NORMAL : task.priority,
  };
  if (kind === "child") {
    return {
      ...shared,
      parentTaskId: task.id,
      prompt: applyParentOutputMode(PARENT_OUTPUT, task.output, outputMode),
    };
  }
  return {
    ...shared,
    name: task.name,
    prompt: task.prompt,
    metadata: formatMetadataPairs(task.metadata),
    vars: Object.entries(task.vars)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => ({ key: newRowKey(), name, value })),
  };
}

/** Sampling parameters as the form's text fields (a task's or a template's). */
export function paramsDraft(
  params: TaskParams | undefined,
): Pick<TaskDraft, "temperature" | "topP" | "maxTokens" | "seed" | "stop"> {
  const text = (v: number | bigint | undefined) => (v === undefined ? "" : String(v));
  return {
    temperature: text(params?.temperature),
    topP: text(params?.topP),
    maxTokens: text(params?.maxTokens),
    seed: text(params?.seed),
    stop: params?.stop.join("\n") ?? "",
  };
}

/**
 * The prompt with the parent's output switched to `mode`: `paste` puts the
 * output where `{{parent.output}}` was, `reference` puts the reference back
 * where the output was. With nothing to replace, it is added at the end, so
 * the choice always shows in the prompt.
 */
export function applyParentOutputMode(
  prompt: string,
  output: string,
  mode: ParentOutputMode,
): string {
  if (mode === "paste") {
    if (PARENT_OUTPUT_PATTERN.test(prompt)) {
      // A function, so "$&" and friends in the output are taken literally.
      return prompt.replace(new RegExp(PARENT_OUTPUT_PATTERN, "g"), () => output);
    }
    return output === "" || prompt.includes(output) ? prompt : appended(prompt, output);
  }
  if (output !== "" && prompt.includes(output)) return prompt.split(output).join(PARENT_OUTPUT);
  return PARENT_OUTPUT_PATTERN.test(prompt) ? prompt : appended(prompt, PARENT_OUTPUT);
}

function appended(prompt: string, text: string): string {
  const head = prompt.trimEnd();
  return head === "" ? text : `${head}\n\n${text}`;
}

const NAME_MAX = 200;
const REFERENCE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const INTEGER = /^[+-]?\d+$/;
const INT32_MAX = 2_147_483_647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Client-side checks for the obvious mistakes only (empty prompt, no model,
 * text where a number goes); the server has the last word on everything else.
 */
export function validateDraft(draft: TaskDraft): DraftErrors {
  const errors: DraftErrors = {};
  if (draft.name.trim().length > NAME_MAX) errors.name = `At most ${NAME_MAX} characters.`;
  if (draft.prompt.trim() === "") errors.prompt = "Enter a prompt.";
  if (draft.model === "") errors.model = "Choose a model.";

  const temperature = draft.temperature.trim();
  if (temperature !== "" && (!DECIMAL.test(temperature) || Number(temperature) < 0)) {
    errors.temperature = "Enter a number of 0 or more, or leave it empty.";
  }
  const topP = draft.topP.trim();
  if (topP !== "" && (!DECIMAL.test(topP) || Number(topP) <= 0 || Number(topP) > 1)) {
    errors.top_p = "Enter a number above 0 and at most 1, or leave it empty.";
  }
  const maxTokens = draft.maxTokens.trim();
  if (
    maxTokens !== "" &&
    (!INTEGER.test(maxTokens) || Number(maxTokens) < 1 || Number(maxTokens) > INT32_MAX)
  ) {
    errors.max_tokens = "Enter a whole number of 1 or more, or leave it empty.";
  }
  const seed = draft.seed.trim();
  if (
    seed !== "" &&
    (!INTEGER.test(seed) || BigInt(seed) < INT64_MIN || BigInt(seed) > INT64_MAX)
  ) {
    errors.seed = "Enter a whole number, or leave it empty.";
  }
  const runAt = runAtError(draft.runAt, Date.now());
  if (runAt !== undefined) errors.run_at = runAt;
  if (parseMetadataPairs(draft.metadata) === undefined) {
    errors.metadata = "Write key:value pairs separated by spaces, e.g. team:red area:search.";
  }
  validateDependencies(draft, errors);
  validateVars(draft, errors);
  return errors;
}

/** How far ahead a task may be scheduled; the server refuses more. */
export const RUN_AT_MAX_AHEAD_MS = 30 * 24 * 3_600_000;
// A time picked a moment ago may have passed by the time the form is sent.
const RUN_AT_PAST_SLACK_MS = 60_000;

/** What is wrong with a schedule, if anything: unreadable, in the past, or too far ahead. */
export function runAtError(runAt: string, now: number): string | undefined {
  if (runAt === "") return undefined;
  const at = new Date(runAt).getTime();
  if (Number.isNaN(at)) return "Pick a date and a time.";
  if (at < now - RUN_AT_PAST_SLACK_MS)
    return "This time has passed. Pick a later one, or run it now.";
  if (at > now + RUN_AT_MAX_AHEAD_MS) return "At most 30 days ahead.";
  return undefined;
}

function validateDependencies(draft: TaskDraft, errors: DraftErrors): void {
  const names = new Set<string>();
  for (const dep of sentDependencies(draft)) {
    if (dep.taskId.trim() === "") {
      errors[rowErrorKey("depends_on", dep.key, "task_id")] = "Enter a task id.";
    } else if (parseTaskRef(dep.taskId) === undefined) {
      errors[rowErrorKey("depends_on", dep.key, "task_id")] =
        "Paste a task id, or a link to a task's page.";
    }
    const name = dep.name.trim();
    if (name === "") continue;
    if (!REFERENCE_NAME.test(name)) {
      errors[rowErrorKey("depends_on", dep.key, "name")] =
        "Letters, digits and _ only, not starting with a digit.";
    } else if (names.has(name)) {
      errors[rowErrorKey("depends_on", dep.key, "name")] = "Another task has this name already.";
    }
    names.add(name);
  }
}

function validateVars(draft: TaskDraft, errors: DraftErrors): void {
  const names = new Set<string>();
  for (const v of sentVars(draft)) {
    const name = v.name.trim();
    if (name === "") {
      errors[rowErrorKey("vars", v.key, "name")] = "Name this variable.";
    } else if (!REFERENCE_NAME.test(name)) {
      errors[rowErrorKey("vars", v.key, "name")] =
        "Letters, digits and _ only, not starting with a digit.";
    } else if (names.has(name)) {
      errors[rowErrorKey("vars", v.key, "name")] = "Another variable has this name already.";
    }
    names.add(name);
  }
}

/**
 * The task id in what someone pasted: an id, or a link to a task's page
 * (`…/tasks/<id>`); undefined when there is none.
 */
export function parseTaskRef(text: string): string | undefined {
  const trimmed = text.trim();
  const whole = new RegExp(`^${UUID.source}$`, "i");
  if (whole.test(trimmed)) return trimmed.toLowerCase();
  const inLink = new RegExp(`/tasks/(${UUID.source})(?:[/?#]|$)`, "i").exec(trimmed);
  return inLink?.[1]?.toLowerCase();
}

/** The dependency rows that go into the request, in order: all but the blank ones. */
export function sentDependencies(draft: TaskDraft): DependencyDraft[] {
  return draft.dependsOn.filter((d) => d.taskId.trim() !== "" || d.name.trim() !== "");
}

/** The variable rows that go into the request, in order: all but the blank ones. */
export function sentVars(draft: TaskDraft): VarDraft[] {
  return draft.vars.filter((v) => v.name.trim() !== "" || v.value !== "");
}

/** Stop sequences from the textarea: one per line, blank lines dropped, spaces kept. */
export function stopSequences(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== "");
}

/** The parameters' text fields as a request carries them; an empty field is left unset. */
export function paramsFromDraft(
  draft: Pick<TaskDraft, "temperature" | "topP" | "maxTokens" | "seed" | "stop">,
): MessageInitShape<typeof TaskParamsSchema> {
  const params: MessageInitShape<typeof TaskParamsSchema> = {
    stop: stopSequences(draft.stop),
  };
  if (draft.temperature.trim() !== "") params.temperature = Number(draft.temperature.trim());
  if (draft.topP.trim() !== "") params.topP = Number(draft.topP.trim());
  if (draft.maxTokens.trim() !== "") params.maxTokens = Number(draft.maxTokens.trim());
  if (draft.seed.trim() !== "") params.seed = BigInt(draft.seed.trim());
  return params;
}

/**
 * The CreateTask request for a draft that passed {@link validateDraft}.
 * Parameters left empty are left unset, so the model's defaults apply.
 */
export function toCreateRequest(
  draft: TaskDraft,
): MessageInitShape<typeof CreateTaskRequestSchema> {
  const params = paramsFromDraft(draft);
  return {
    name: draft.name.trim(),
    prompt: draft.prompt,
    systemPrompt: draft.systemPrompt,
    model: draft.model,
    priority: draft.priority,
    params,
    ...(draft.parentTaskId !== "" ? { parentTaskId: draft.parentTaskId } : {}),
    dependsOn: sentDependencies(draft).map((d) => ({
      target: { case: "taskId" as const, value: parseTaskRef(d.taskId) ?? d.taskId.trim() },
      name: d.name.trim(),
    })),
    vars: Object.fromEntries(sentVars(draft).map((v) => [v.name.trim(), v.value])),
    metadata: parseMetadataPairs(draft.metadata) ?? {},
    // A datetime-local value without a zone is read as the viewer's local time.
    ...(draft.runAt !== "" ? { runAt: timestampFromMs(new Date(draft.runAt).getTime()) } : {}),
  };
}
