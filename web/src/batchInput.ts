import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  BatchCreateTasksRequestSchema,
  CreateTaskRequestSchema,
  TaskPriority,
} from "@promptline/proto";
import Papa from "papaparse";
import { fieldErrorParts } from "./errors";
import { PRIORITIES, priorityLabel } from "./format";
import { runAtError } from "./taskDraft";

/** How pasted or uploaded batch input is read. */
export type BatchFormat = "lines" | "csv" | "jsonl";

/** BatchCreateTasks takes at most this many tasks, all or nothing. */
export const BATCH_MAX = 100;

/** One task of a batch as read from the input, before the form's defaults fill the gaps. */
export interface BatchRow {
  /** Where it came from, for messages: the line (or CSV record) number, from 1. */
  source: number;
  name: string;
  prompt: string;
  /** "" = the form's model. */
  model: string;
  /** Undefined = the form's priority. */
  priority: TaskPriority | undefined;
  systemPrompt: string;
  temperature: number | undefined;
  topP: number | undefined;
  maxTokens: number | undefined;
  /** Values for `{{vars.<name>}}`: a CSV's other columns, or JSONL's `vars`. */
  vars: Record<string, string>;
  /** When to run, as written (ISO 8601, or `YYYY-MM-DDTHH:MM` local time); "" = the form's choice. */
  runAt: string;
  /** Why this row can't be sent, if it can't. */
  error: string | undefined;
}

/** Input read into rows, and what is wrong with the input as a whole. */
export interface ParsedBatch {
  rows: BatchRow[];
  problems: string[];
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COLUMNS = new Set([
  "prompt",
  "name",
  "model",
  "priority",
  "system_prompt",
  "temperature",
  "top_p",
  "max_tokens",
  "run_at",
]);

/** The format a file's name says, else a guess from its text. */
export function detectFormat(text: string, fileName = ""): BatchFormat {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".txt")) return "lines";
  return text.trimStart().startsWith("{") ? "jsonl" : "lines";
}

/**
 * Reads batch input: one prompt per line; a CSV with a header row (a
 * `prompt` column, optional `name`, `model`, `priority`, `system_prompt`,
 * `temperature`, `top_p`, `max_tokens`; any other column is a variable for
 * `{{vars.<column>}}`); or JSON Lines with the same keys and `vars` as an
 * object. Problems are reported per row, so a preview can point at them.
 */
export function parseBatch(text: string, format: BatchFormat, now = Date.now()): ParsedBatch {
  const row = rowReader(now);
  const parsed =
    format === "lines"
      ? parseLines(text, row)
      : format === "csv"
        ? parseCsv(text, row)
        : parseJsonl(text, row);
  if (parsed.rows.length > BATCH_MAX) {
    parsed.problems.push(
      `A batch holds at most ${BATCH_MAX} tasks; this has ${parsed.rows.length}. Split it into parts of ${BATCH_MAX}.`,
    );
  }
  return parsed;
}

type RowReader = (
  source: number,
  input: Partial<Record<string, string>>,
  vars?: Record<string, string>,
) => BatchRow;

function parseLines(text: string, row: RowReader): ParsedBatch {
  const rows: BatchRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() !== "") rows.push(row(i + 1, { prompt: line.trim() }));
  });
  return { rows, problems: [] };
}

function parseCsv(text: string, row: RowReader): ParsedBatch {
  const result = Papa.parse<Record<string, string>>(text, {
    header: true,
    skipEmptyLines: "greedy",
    transformHeader: (h) => h.trim().toLowerCase(),
  });
  const problems: string[] = [];
  const fields = result.meta.fields ?? [];
  if (!fields.includes("prompt")) {
    problems.push(`The CSV needs a "prompt" column (its columns: ${fields.join(", ") || "none"}).`);
  }
  const badVars = fields.filter((f) => !COLUMNS.has(f) && !VAR_NAME.test(f));
  if (badVars.length > 0) {
    problems.push(
      `Columns become variables, whose names are letters, digits and _: rename ${badVars.map((f) => `"${f}"`).join(", ")}.`,
    );
  }
  for (const e of result.errors.slice(0, 3)) {
    problems.push(`CSV record ${(e.row ?? 0) + 1}: ${e.message}`);
  }
  const rows = result.data.map((record, i) => {
    const vars: Record<string, string> = {};
    for (const [key, value] of Object.entries(record)) {
      if (!COLUMNS.has(key) && VAR_NAME.test(key) && value !== undefined) vars[key] = value;
    }
    return row(i + 1, record, vars);
  });
  return { rows, problems };
}

function parseJsonl(text: string, row: RowReader): ParsedBatch {
  const rows: BatchRow[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      rows.push({ ...row(i + 1, {}), error: "Not valid JSON." });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      rows.push({ ...row(i + 1, {}), error: 'Expected an object like {"prompt": "…"}.' });
      return;
    }
    const obj = value as Record<string, unknown>;
    const vars: Record<string, string> = {};
    let error: string | undefined;
    if (obj.vars !== undefined) {
      if (typeof obj.vars !== "object" || obj.vars === null || Array.isArray(obj.vars)) {
        error = '"vars" must be an object of names to text.';
      } else {
        for (const [k, v] of Object.entries(obj.vars)) vars[k] = String(v);
      }
    }
    const fields: Record<string, string> = {};
    for (const key of COLUMNS) {
      const v = obj[key];
      if (v !== undefined && v !== null) fields[key] = String(v);
    }
    const r = row(i + 1, fields, vars);
    rows.push(error === undefined ? r : { ...r, error: r.error ?? error });
  });
  return { rows, problems };
}

/** Reads one row's fields, checking them as of `now` (a run_at may not have passed). */
const rowReader =
  (now: number): RowReader =>
  (source, input, vars = {}) => {
    const errors: string[] = [];
    const text = (key: string) => (input[key] ?? "").trim();
    const number = (key: string, integer: boolean) => {
      const raw = text(key);
      if (raw === "") return undefined;
      const n = Number(raw);
      if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
        errors.push(`${key} must be ${integer ? "a whole number" : "a number"}, not "${raw}".`);
        return undefined;
      }
      return n;
    };
    const prompt = input.prompt ?? "";
    if (prompt.trim() === "") errors.push("The prompt is empty.");
    let priority: TaskPriority | undefined;
    const priorityText = text("priority").toLowerCase();
    if (priorityText !== "") {
      priority = PRIORITIES.find((p) => priorityLabel(p) === priorityText);
      if (priority === undefined) {
        errors.push(`priority must be low, normal, high or critical, not "${priorityText}".`);
      }
    }
    const runAt = text("run_at");
    const runAtProblem = runAtError(runAt, now);
    if (runAtProblem !== undefined) errors.push(`run_at "${runAt}": ${runAtProblem}`);
    for (const name of Object.keys(vars)) {
      if (!VAR_NAME.test(name))
        errors.push(`Variable "${name}" needs a name of letters, digits and _.`);
    }
    return {
      source,
      name: text("name"),
      prompt,
      model: text("model"),
      priority,
      systemPrompt: input.system_prompt ?? "",
      temperature: number("temperature", false),
      topP: number("top_p", false),
      maxTokens: number("max_tokens", true),
      vars,
      runAt,
      error: errors.length > 0 ? errors.join(" ") : undefined,
    };
  };

/** What a row leaves to the form. */
export interface BatchDefaults {
  model: string;
  priority: TaskPriority;
  /** When to run rows without a run_at, as the schedule control holds it; "" = now. */
  runAt: string;
}

/** The BatchCreateTasks request for rows without errors; a row's own model and priority win. */
export function batchRequest(
  rows: readonly BatchRow[],
  defaults: BatchDefaults,
): MessageInitShape<typeof BatchCreateTasksRequestSchema> {
  return {
    tasks: rows.map(
      (r): MessageInitShape<typeof CreateTaskRequestSchema> => ({
        name: r.name,
        prompt: r.prompt,
        systemPrompt: r.systemPrompt,
        model: r.model !== "" ? r.model : defaults.model,
        priority: r.priority ?? defaults.priority,
        params: {
          ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
          ...(r.topP !== undefined ? { topP: r.topP } : {}),
          ...(r.maxTokens !== undefined ? { maxTokens: r.maxTokens } : {}),
        },
        vars: r.vars,
        ...runAtField(r.runAt !== "" ? r.runAt : defaults.runAt),
      }),
    ),
  };
}

// Without a zone, a time is read as the viewer's local time (as the schedule control's is).
function runAtField(runAt: string) {
  return runAt === "" ? {} : { runAt: timestampFromMs(new Date(runAt).getTime()) };
}

/**
 * The server's reasons for refusing a batch, by row index: an InvalidArgument
 * names the task as `tasks[3].prompt: …`. Reasons that name no task are
 * returned apart.
 */
export function batchServerErrors(err: unknown): { byRow: Map<number, string>; other: string[] } {
  const byRow = new Map<number, string>();
  const other: string[] = [];
  for (const { path, reason } of fieldErrorParts(err)) {
    const match = path === undefined ? null : /^tasks\[(\d+)\]\.?(.*)$/.exec(path);
    if (match === null) {
      other.push(path === undefined ? reason : `${path}: ${reason}`);
      continue;
    }
    const index = Number(match[1]);
    const text = match[2] !== undefined && match[2] !== "" ? `${match[2]}: ${reason}` : reason;
    byRow.set(index, byRow.has(index) ? `${byRow.get(index)}; ${text}` : text);
  }
  return { byRow, other };
}

/** The priority a row will get, in words, for the preview. */
export function rowPriorityLabel(r: BatchRow, fallback: TaskPriority): string {
  return priorityLabel(r.priority ?? fallback);
}
