import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type CreateTaskRequestSchema,
  type TaskParamsSchema,
  TaskPriority,
} from "@promptline/proto";

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
}

/**
 * The form's fields by the names the server uses in InvalidArgument messages
 * (`prompt: must not be empty`, `params.max_tokens: …`); "params" is the
 * parameters group as a whole.
 */
export const DRAFT_FIELDS = [
  "name",
  "prompt",
  "system_prompt",
  "model",
  "priority",
  "params",
  "temperature",
  "top_p",
  "max_tokens",
  "seed",
  "stop",
] as const;

/** A field of the create form, named as the server names it. */
export type DraftField = (typeof DRAFT_FIELDS)[number];

/** Reasons, per field, that a draft can't be sent. */
export type DraftErrors = Partial<Record<DraftField, string>>;

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
  };
}

const NAME_MAX = 200;
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
  return errors;
}

/** Stop sequences from the textarea: one per line, blank lines dropped, spaces kept. */
export function stopSequences(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== "");
}

/**
 * The CreateTask request for a draft that passed {@link validateDraft}.
 * Parameters left empty are left unset, so the model's defaults apply.
 */
export function toCreateRequest(
  draft: TaskDraft,
): MessageInitShape<typeof CreateTaskRequestSchema> {
  const params: MessageInitShape<typeof TaskParamsSchema> = {
    stop: stopSequences(draft.stop),
  };
  if (draft.temperature.trim() !== "") params.temperature = Number(draft.temperature.trim());
  if (draft.topP.trim() !== "") params.topP = Number(draft.topP.trim());
  if (draft.maxTokens.trim() !== "") params.maxTokens = Number(draft.maxTokens.trim());
  if (draft.seed.trim() !== "") params.seed = BigInt(draft.seed.trim());
  return {
    name: draft.name.trim(),
    prompt: draft.prompt,
    systemPrompt: draft.systemPrompt,
    model: draft.model,
    priority: draft.priority,
    params,
  };
}
