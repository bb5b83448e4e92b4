import type { TaskRow } from "../db/schema.js";

/**
 * What travels on the events channel. A status change carries the row its
 * statement committed (`r`), so a process with watchers need not read it
 * back from PostgreSQL; a row too large for the channel is left out, and the
 * receiver reads it instead. Output deltas carry the text itself, which is
 * not in PostgreSQL until the task completes.
 */
export type TaskEventMessage =
  | {
      k: "s";
      id: string;
      /** The task's last task_events sequence number after the change. */
      seq: number;
      /** created | updated | deleted */
      c: "c" | "u" | "d";
      /** Publish time (ms since epoch), for latency measurement. */
      at: number;
      /** A deletion's task owner: the row is gone, so watchers cannot read it. */
      o?: string;
      /** The task as committed with `seq`; absent when too large to publish. */
      r?: TaskRow;
    }
  | {
      k: "o";
      id: string;
      attempt: number;
      /** Offset of `t` in the attempt's output, in UTF-16 code units. */
      off: number;
      t: string;
      at: number;
    };

export function encodeMessage(message: TaskEventMessage): string {
  return JSON.stringify(message);
}

/** A status message may carry its row up to this size; above it, receivers re-read the row. */
export const MAX_ROW_MESSAGE_CHARS = 32 * 1024;

/**
 * A status change as published: with its committed row, unless that makes
 * the message larger than {@link MAX_ROW_MESSAGE_CHARS} (a long prompt or
 * output), which every API process would otherwise receive and drop.
 */
export function encodeStatus(row: TaskRow, change: "c" | "u", at: number): string {
  const withRow = encodeMessage({ k: "s", id: row.id, seq: row.seq, c: change, at, r: row });
  return withRow.length <= MAX_ROW_MESSAGE_CHARS
    ? withRow
    : encodeMessage({ k: "s", id: row.id, seq: row.seq, c: change, at });
}

type DateColumn = {
  [K in keyof TaskRow]-?: Date extends TaskRow[K] ? K : never;
}[keyof TaskRow];

/** Every timestamp column of a task; the type makes a new one fail to compile until listed. */
const DATE_COLUMNS: Record<DateColumn, true> = {
  run_at: true,
  cancel_requested_at: true,
  created_at: true,
  queued_at: true,
  started_at: true,
  completed_at: true,
  updated_at: true,
};

/** A row that went through JSON: its timestamps back to Dates (JSON keeps their milliseconds, as pg does). */
function rowFromJson(value: unknown, id: string, seq: number): TaskRow | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const row = value as Record<string, unknown>;
  if (row.id !== id || row.seq !== seq || typeof row.status !== "string") return undefined;
  for (const column of Object.keys(DATE_COLUMNS)) {
    const at = row[column];
    if (typeof at === "string") row[column] = new Date(at);
    else if (at !== null) return undefined;
  }
  return row as unknown as TaskRow;
}

/** Undefined for anything that is not a well-formed message (never trusted blindly). */
export function decodeMessage(raw: string): TaskEventMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (typeof m.id !== "string" || typeof m.at !== "number") return undefined;
  if (m.k === "s" && typeof m.seq === "number" && (m.c === "c" || m.c === "u" || m.c === "d")) {
    const row = m.r === undefined ? undefined : rowFromJson(m.r, m.id, m.seq);
    return {
      k: "s",
      id: m.id,
      seq: m.seq,
      c: m.c,
      at: m.at,
      ...(typeof m.o === "string" ? { o: m.o } : {}),
      ...(row === undefined ? {} : { r: row }),
    };
  }
  if (
    m.k === "o" &&
    typeof m.attempt === "number" &&
    typeof m.off === "number" &&
    typeof m.t === "string"
  ) {
    return { k: "o", id: m.id, attempt: m.attempt, off: m.off, t: m.t, at: m.at };
  }
  return undefined;
}

export function eventsChannel(prefix: string): string {
  return `${prefix}:events`;
}

/** The partial output of one attempt, kept in Redis while it is written. */
export function outputKey(prefix: string, taskId: string, attempt: number): string {
  return `${prefix}:output:${taskId}:${attempt}`;
}
