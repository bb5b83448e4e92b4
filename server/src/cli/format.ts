import { type Duration, type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  type GetTaskResponse,
  type Task,
  type TaskError,
  TaskPriority,
  TaskStatus,
} from "@promptline/proto";

/** `completed`, `failed`, …: how the CLI writes and reads a status. */
export function statusName(status: TaskStatus): string {
  return (TaskStatus[status] ?? "unspecified").toLowerCase();
}

export function priorityName(priority: TaskPriority): string {
  return (TaskPriority[priority] ?? "unspecified").toLowerCase();
}

/** Connect's wire name of a code: `not_found`, `deadline_exceeded`, … */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function time(ts: Timestamp | undefined): string {
  return ts === undefined ? "" : timestampDate(ts).toISOString();
}

function ms(duration: Duration | undefined): string {
  if (duration === undefined) return "";
  return `${Number(duration.seconds) * 1000 + Math.round(duration.nanos / 1e6)} ms`;
}

export function errorLine(error: TaskError | undefined): string {
  if (error === undefined || error.code === "") return "";
  const http = error.httpStatus === 0 ? "" : ` (HTTP ${error.httpStatus})`;
  return `${error.code}: ${error.message}${http}`;
}

/** One line per task: id, status, model, created, name (or the prompt's start). */
export function taskTable(tasks: readonly Task[]): string {
  const rows = tasks.map((t) => [
    t.id,
    statusName(t.status),
    t.model,
    time(t.createdAt),
    oneLine(t.name === "" ? t.prompt : t.name, 50),
  ]);
  const header = ["ID", "STATUS", "MODEL", "CREATED", "NAME"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "),
    )
    .join("\n");
}

/** The task's fields as `label: value` lines, then its output. */
export function taskDetails(response: GetTaskResponse): string {
  const t = response.task;
  if (t === undefined) return "";
  const usage = t.usage;
  const fields: Array<[string, string]> = [
    ["id", t.id],
    ["name", t.name],
    ["status", statusName(t.status)],
    ["model", t.provider === "" ? t.model : `${t.model} (${t.provider})`],
    ["priority", priorityName(t.priority)],
    ["attempts", `${t.attempts}/${t.maxAttempts}`],
    ["created", time(t.createdAt)],
    ["started", time(t.startedAt)],
    ["finished", time(t.completedAt)],
    ["latency", ms(t.latency)],
    [
      "tokens",
      usage === undefined
        ? ""
        : `${usage.promptTokens} prompt, ${usage.completionTokens} completion`,
    ],
    ["cost", t.costUsd === 0 ? "" : `$${t.costUsd.toFixed(6)}`],
    ["parent", t.parentTaskId ?? ""],
    ["request id", t.requestId],
    ["error", errorLine(t.error)],
  ];
  const shown = fields.filter(([, value]) => value !== "");
  const width = Math.max(...shown.map(([label]) => label.length)) + 1;
  const lines = shown.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`);
  return t.output === "" ? lines.join("\n") : `${lines.join("\n")}\n\n${t.output}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
