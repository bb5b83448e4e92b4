/**
 * What travels on the events channel. Status changes carry only what a
 * process needs to decide whether to re-read the task from PostgreSQL (the
 * truth); output deltas carry the text itself, which is not in PostgreSQL
 * until the task completes.
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
    return {
      k: "s",
      id: m.id,
      seq: m.seq,
      c: m.c,
      at: m.at,
      ...(typeof m.o === "string" ? { o: m.o } : {}),
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
