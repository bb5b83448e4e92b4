import { Redis } from "ioredis";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { DB, TaskRow } from "../db/schema.js";
import { findTasksById } from "../db/task-writes.js";
import { decodeMessage, eventsChannel } from "./messages.js";

/** What a watcher receives, in the order the process learned it. */
export type FeedEvent =
  | { kind: "task"; row: TaskRow; change: "created" | "updated"; publishedAt: number }
  | { kind: "deleted"; id: string; ownerId: string | undefined; publishedAt: number }
  | {
      kind: "output";
      id: string;
      attempt: number;
      offset: number;
      text: string;
      publishedAt: number;
    };

/** Events for one watcher; iterate it, and close it when done. */
export interface Subscription extends AsyncIterable<FeedEvent> {
  close(): void;
}

/** A slow client that falls this far behind is cut off; it resumes with its cursor. */
const MAX_BUFFERED = 10_000;

class Queue implements Subscription {
  #buffer: FeedEvent[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  #overflowed = false;

  constructor(private readonly onClose: () => void) {}

  push(event: FeedEvent): void {
    if (this.#closed) return;
    if (this.#buffer.length >= MAX_BUFFERED) {
      this.#overflowed = true;
      this.close();
      return;
    }
    this.#buffer.push(event);
    this.#wake?.();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FeedEvent> {
    try {
      for (;;) {
        const next = this.#buffer.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.#closed) {
          if (this.#overflowed)
            throw new Error("watcher fell too far behind; resume with the last cursor");
          return;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
      }
    } finally {
      this.close();
    }
  }
}

/** How many tasks' last sequence numbers the feed remembers, to drop a change that arrives after a newer one (or twice). */
const REMEMBERED_TASKS = 20_000;

interface PendingChange {
  change: "created" | "updated";
  publishedAt: number;
  seq: number;
  /** The row as committed with `seq`, when the message carried it. */
  row: TaskRow | undefined;
}

/**
 * One per API process: a single Redis subscription to the deployment's
 * events channel, fanned out in-process to every watcher. A status change
 * carries the row its statement committed, which watchers get as it is; a
 * change whose row was too large to publish is re-read from PostgreSQL in
 * batches — only for tasks someone here watches — so a burst costs one
 * query, not one per change.
 */
export class TaskFeed {
  readonly #subscriber: Redis;
  readonly #byTask = new Map<string, Set<Queue>>();
  readonly #all = new Set<Queue>();
  #pending = new Map<string, PendingChange>();
  #flushing = false;
  /**
   * The last sequence number sent per task (the most recent tasks only).
   * Publishers in different processes can deliver a task's changes out of
   * order; a row older than one already sent is dropped, so no stream goes back.
   */
  readonly #sentSeq = new Map<string, number>();

  constructor(
    private readonly deps: { redisUrl: string; prefix: string; db: Kysely<DB>; log: Logger },
  ) {
    this.#subscriber = new Redis(deps.redisUrl, { maxRetriesPerRequest: null });
    this.#subscriber.on("error", (err) => deps.log.debug({ err }, "events subscriber error"));
    this.#subscriber.on("message", (_channel: string, raw: string) => this.#receive(raw));
  }

  async start(): Promise<void> {
    await this.#subscriber.subscribe(eventsChannel(this.deps.prefix));
  }

  async close(): Promise<void> {
    for (const queue of [...this.#all, ...[...this.#byTask.values()].flatMap((s) => [...s])])
      queue.close();
    this.#subscriber.disconnect();
  }

  /** Watchers in this process right now. */
  get watchers(): number {
    let count = this.#all.size;
    for (const set of this.#byTask.values()) count += set.size;
    return count;
  }

  /** Events for one task, from now on. Subscribe before reading its snapshot. */
  watchTask(id: string): Subscription {
    let set = this.#byTask.get(id);
    if (set === undefined) {
      set = new Set();
      this.#byTask.set(id, set);
    }
    const watchers = set;
    const queue: Queue = new Queue(() => {
      watchers.delete(queue);
      if (watchers.size === 0) this.#byTask.delete(id);
    });
    watchers.add(queue);
    return queue;
  }

  /** Status events (no output) for every task, for list views. */
  watchAll(): Subscription {
    const queue: Queue = new Queue(() => this.#all.delete(queue));
    this.#all.add(queue);
    return queue;
  }

  #receive(raw: string): void {
    // Every task publishes about five messages; a process nobody watches
    // through (most API processes under load) need not even parse them.
    if (this.#all.size === 0 && this.#byTask.size === 0) return;
    const message = decodeMessage(raw);
    if (message === undefined) return;
    if (message.k === "o") {
      const event: FeedEvent = {
        kind: "output",
        id: message.id,
        attempt: message.attempt,
        offset: message.off,
        text: message.t,
        publishedAt: message.at,
      };
      for (const queue of this.#byTask.get(message.id) ?? []) queue.push(event);
      return;
    }
    if (message.c === "d") {
      const event: FeedEvent = {
        kind: "deleted",
        id: message.id,
        ownerId: message.o,
        publishedAt: message.at,
      };
      for (const queue of this.#byTask.get(message.id) ?? []) queue.push(event);
      for (const queue of this.#all) queue.push(event);
      return;
    }
    if (this.#all.size === 0 && !this.#byTask.has(message.id)) return;
    const earlier = this.#pending.get(message.id);
    const change = message.c === "c" ? "created" : "updated";
    if (earlier === undefined && message.r !== undefined) {
      // Nothing to read and nothing of this task waiting: watchers get it now.
      this.#send(message.r, { change, publishedAt: message.at });
      return;
    }
    // Behind a change still to be read: changes of one task that arrive
    // together become one, the newest row (or a re-read when the newest came
    // without one), flagged created if any of them was.
    const newer = earlier === undefined || message.seq >= earlier.seq;
    this.#pending.set(message.id, {
      change: earlier?.change === "created" ? "created" : change,
      publishedAt: Math.max(earlier?.publishedAt ?? 0, message.at),
      seq: newer ? message.seq : (earlier?.seq ?? message.seq),
      row: newer ? message.r : earlier?.row,
    });
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => void this.#flush());
    }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        const batch = this.#pending;
        this.#pending = new Map();
        const unread: string[] = [];
        for (const [id, info] of batch) {
          if (info.row === undefined) unread.push(id);
          else this.#send(info.row, info);
        }
        if (unread.length === 0) continue;
        const rows = await findTasksById(this.deps.db, unread).catch((err: unknown) => {
          this.deps.log.warn(
            { err },
            "could not read changed tasks; watchers catch up on the next change",
          );
          return [];
        });
        for (const row of rows) {
          const info = batch.get(row.id);
          if (info !== undefined) this.#send(row, info);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #send(row: TaskRow, info: Pick<PendingChange, "change" | "publishedAt">): void {
    // Older than, or the same change as, one already sent (a re-read can
    // return the row a message carried meanwhile).
    const sent = this.#sentSeq.get(row.id);
    if (sent !== undefined && row.seq <= sent) return;
    this.#sentSeq.delete(row.id);
    this.#sentSeq.set(row.id, row.seq);
    if (this.#sentSeq.size > REMEMBERED_TASKS) {
      const oldest = this.#sentSeq.keys().next().value;
      if (oldest !== undefined) this.#sentSeq.delete(oldest);
    }
    const event: FeedEvent = {
      kind: "task",
      row,
      change: info.change,
      publishedAt: info.publishedAt,
    };
    for (const queue of this.#byTask.get(row.id) ?? []) queue.push(event);
    for (const queue of this.#all) queue.push(event);
  }
}
