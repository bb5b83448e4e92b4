import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Task, TaskPriority, TaskStatus } from "@promptline/proto";

/** Every status a task can be in, in lifecycle order (the filter chips use this order). */
export const STATUSES = [
  TaskStatus.PENDING,
  TaskStatus.QUEUED,
  TaskStatus.RUNNING,
  TaskStatus.COMPLETED,
  TaskStatus.FAILED,
  TaskStatus.CANCELLED,
] as const;

const statusNames: Record<TaskStatus, string> = {
  [TaskStatus.UNSPECIFIED]: "unknown",
  [TaskStatus.PENDING]: "pending",
  [TaskStatus.QUEUED]: "queued",
  [TaskStatus.RUNNING]: "running",
  [TaskStatus.COMPLETED]: "completed",
  [TaskStatus.FAILED]: "failed",
  [TaskStatus.CANCELLED]: "cancelled",
};

/**
 * The lowercase word for a status, as shown on chips and used in URLs
 * (`?status=running`). Browser tests read it from `data-testid="task-status"`.
 */
export function statusLabel(status: TaskStatus): string {
  return statusNames[status] ?? "unknown";
}

/** Parses the word {@link statusLabel} makes; undefined for anything else. */
export function parseStatus(label: string): TaskStatus | undefined {
  return STATUSES.find((s) => statusNames[s] === label.trim().toLowerCase());
}

/** True while the task can still change on its own: pending, queued or running. */
export function isActive(status: TaskStatus): boolean {
  return (
    status === TaskStatus.PENDING || status === TaskStatus.QUEUED || status === TaskStatus.RUNNING
  );
}

// Whole class strings (not assembled) so Tailwind's scanner sees every one.
const statusChipClasses: Record<TaskStatus, string> = {
  [TaskStatus.UNSPECIFIED]:
    "bg-zinc-100 text-zinc-700 ring-zinc-300 dark:bg-zinc-800 dark:text-zinc-300 dark:ring-zinc-700",
  [TaskStatus.PENDING]:
    "bg-zinc-100 text-zinc-700 ring-zinc-300 dark:bg-zinc-800 dark:text-zinc-300 dark:ring-zinc-700",
  [TaskStatus.QUEUED]:
    "bg-sky-50 text-sky-800 ring-sky-200 dark:bg-sky-950 dark:text-sky-300 dark:ring-sky-800",
  [TaskStatus.RUNNING]:
    "bg-amber-50 text-amber-800 ring-amber-200 dark:bg-amber-950 dark:text-amber-300 dark:ring-amber-800",
  [TaskStatus.COMPLETED]:
    "bg-emerald-50 text-emerald-800 ring-emerald-200 dark:bg-emerald-950 dark:text-emerald-300 dark:ring-emerald-800",
  [TaskStatus.FAILED]:
    "bg-red-50 text-red-800 ring-red-200 dark:bg-red-950 dark:text-red-300 dark:ring-red-800",
  [TaskStatus.CANCELLED]:
    "bg-stone-100 text-stone-600 ring-stone-300 dark:bg-stone-900 dark:text-stone-400 dark:ring-stone-700",
};

const statusDotClasses: Record<TaskStatus, string> = {
  [TaskStatus.UNSPECIFIED]: "bg-zinc-400",
  [TaskStatus.PENDING]: "bg-zinc-400",
  [TaskStatus.QUEUED]: "bg-sky-500",
  [TaskStatus.RUNNING]: "bg-amber-500 animate-pulse",
  [TaskStatus.COMPLETED]: "bg-emerald-500",
  [TaskStatus.FAILED]: "bg-red-500",
  [TaskStatus.CANCELLED]: "bg-stone-400",
};

/** Tailwind classes for a status chip: background, text and ring, light and dark. */
export function statusChipClass(status: TaskStatus): string {
  return statusChipClasses[status] ?? statusChipClasses[TaskStatus.UNSPECIFIED];
}

/** Tailwind classes for the small dot inside a status chip (running pulses). */
export function statusDotClass(status: TaskStatus): string {
  return statusDotClasses[status] ?? statusDotClasses[TaskStatus.UNSPECIFIED];
}

/** Priorities a person can pick, lowest first. */
export const PRIORITIES = [
  TaskPriority.LOW,
  TaskPriority.NORMAL,
  TaskPriority.HIGH,
  TaskPriority.CRITICAL,
] as const;

const priorityNames: Record<TaskPriority, string> = {
  [TaskPriority.UNSPECIFIED]: "normal",
  [TaskPriority.LOW]: "low",
  [TaskPriority.NORMAL]: "normal",
  [TaskPriority.HIGH]: "high",
  [TaskPriority.CRITICAL]: "critical",
};

/** The word for a priority; unspecified reads as "normal", as the server treats it. */
export function priorityLabel(priority: TaskPriority): string {
  return priorityNames[priority] ?? "normal";
}

/**
 * What to call a task in a list or heading: its name, else the first line of
 * its prompt, shortened to `max` characters.
 */
export function taskTitle(task: Pick<Task, "name" | "prompt">, max = 80): string {
  const name = task.name.trim();
  if (name !== "") return truncate(name, max);
  const firstLine = task.prompt.trim().split("\n", 1)[0]?.trim() ?? "";
  return firstLine === "" ? "Untitled task" : truncate(firstLine, max);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

/** A protobuf Timestamp as a Date; undefined when the field is unset. */
export function toDate(ts: Timestamp | undefined): Date | undefined {
  return ts === undefined ? undefined : new Date(timestampMs(ts));
}

/**
 * Milliseconds from `from` to `to` (epoch milliseconds, e.g. from
 * {@link toDate}); undefined unless both are known. Never negative, so clock
 * skew between hosts can't show "-3 ms".
 */
export function spanMs(from: number | undefined, to: number | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return Math.max(0, to - from);
}

/** A protobuf Duration in milliseconds; undefined when the field is unset. */
export function toMs(d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : durationMs(d);
}

/**
 * A duration the way people read it: "340 ms", "2.4 s", "12 s", "3 min 12 s",
 * "2 h 5 min". Precision drops as the value grows.
 */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 10) return `${(Math.floor(seconds * 10) / 10).toFixed(1)} s`;
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  const totalSeconds = Math.floor(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) {
    const rest = totalSeconds % 60;
    return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
  }
  const hours = Math.floor(minutes / 60);
  const restMinutes = minutes % 60;
  return restMinutes === 0 ? `${hours} h` : `${hours} h ${restMinutes} min`;
}

/**
 * How long ago `date` was, relative to `now`: "just now", "42 s ago",
 * "5 min ago", "3 h ago", "2 d ago"; past a week, the calendar date.
 * Times slightly in the future (clock skew) read as "just now".
 */
export function formatRelative(date: Date, now: Date, locale?: string): string {
  const seconds = Math.floor((now.getTime() - date.getTime()) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days < 7) return `${days} d ago`;
  const sameYear = date.getFullYear() === now.getFullYear();
  return new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(date);
}

/** A full date and time with seconds, for titles and detail pages. */
export function formatAbsolute(date: Date, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" }).format(date);
}

const integer = new Intl.NumberFormat("en-US");

/** A count with thousands separators: "12,345". */
export function formatCount(n: number): string {
  return integer.format(n);
}

// Never exponent notation: 9e-7 reads "0.0000009".
const subCent = new Intl.NumberFormat("en-US", {
  maximumSignificantDigits: 4,
  maximumFractionDigits: 20,
});

/**
 * A cost in US dollars. Zero means the model has no price, shown as "—";
 * sub-cent costs keep four significant digits so they don't all read "$0.00".
 */
export function formatCost(usd: number): string {
  if (!Number.isFinite(usd) || usd <= 0) return "—";
  if (usd < 0.01) return `$${subCent.format(usd)}`;
  return `$${usd.toFixed(2)}`;
}

/** A model's context window: "128k context", "1M context", or "context unknown" for 0. */
export function formatContextLength(tokens: number): string {
  if (tokens <= 0) return "context unknown";
  if (tokens % 1_048_576 === 0) return `${tokens / 1_048_576}M context`;
  if (tokens >= 1_000_000) return `${Math.round(tokens / 100_000) / 10}M context`;
  if (tokens % 1024 === 0) return `${tokens / 1024}k context`;
  if (tokens >= 1000) return `${Math.round(tokens / 1000)}k context`;
  return `${tokens} context`;
}
