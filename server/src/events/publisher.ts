import type { ChainableCommander, Redis } from "ioredis";
import type { Logger } from "pino";
import type { TaskRow } from "../db/schema.js";
import { encodeMessage, encodeStatus, eventsChannel, outputKey } from "./messages.js";

/**
 * Tells every process that tasks changed, after the change committed.
 * Fire-and-forget: a lost message costs a watcher nothing it cannot catch up
 * on, because PostgreSQL stays the truth.
 */
export interface TaskNotifier {
  /** Each task as its statement committed it: watchers are sent this row. */
  created(tasks: readonly TaskRow[]): void;
  changed(tasks: readonly (TaskRow | undefined)[]): void;
  /** With each task's owner, so a member's list stream hears of their own deletions only. */
  deleted(tasks: readonly { id: string; ownerId: string }[]): void;
  /** A writer for the output of one attempt, batching deltas. */
  output(taskId: string, attempt: number): OutputWriter;
}

export interface OutputWriter {
  append(text: string): void;
  /** Sends what is buffered; call before the attempt's end is stored. */
  flush(): Promise<void>;
  /** Keeps the buffered output for late watchers only a little longer. */
  finish(): Promise<void>;
}

export interface OutputBatching {
  /** Deltas are sent at most this often per task... */
  intervalMs: number;
  /** ...or as soon as this many characters are waiting. */
  maxChars: number;
}

const OUTPUT_TTL_SECONDS = 3_600;
const FINISHED_OUTPUT_TTL_SECONDS = 60;

/** Commands for one pipeline; resolves when Redis answered them. */
type Commands = (pipeline: ChainableCommander) => void;

/**
 * Publishes over Redis pub/sub on one channel per deployment (queue prefix).
 * Output deltas wait for the end of the event-loop turn, so every task's
 * output of one turn goes out as one pipeline: one socket write instead of
 * one per delta, which is what a task's cost follows on a small machine.
 * Status changes go out once the callback that committed them is done (all
 * tasks one statement answered share the pipeline), without waiting for the
 * rest of the turn: under a burst that wait was 20–46 ms of watch latency
 * (bench/NOTES.md, round 3). Commands keep the order they were given in.
 */
export class RedisTaskNotifier implements TaskNotifier {
  readonly #channel: string;
  #batch: Array<{ commands: Commands; done: () => void }> = [];
  #soon = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly batching: OutputBatching = { intervalMs: 50, maxChars: 2_048 },
  ) {
    this.#channel = eventsChannel(prefix);
  }

  created(tasks: readonly TaskRow[]): void {
    this.#publishStatus(tasks, "c");
  }

  changed(tasks: readonly (TaskRow | undefined)[]): void {
    this.#publishStatus(tasks, "u");
  }

  deleted(tasks: readonly { id: string; ownerId: string }[]): void {
    const at = Date.now();
    const messages = tasks.map(({ id, ownerId }) =>
      encodeMessage({ k: "s", id, seq: Number.MAX_SAFE_INTEGER, c: "d", at, o: ownerId }),
    );
    if (messages.length === 0) return;
    void this.#send((pipeline) => {
      for (const message of messages) pipeline.publish(this.#channel, message);
    }, true);
  }

  #publishStatus(tasks: readonly (TaskRow | undefined)[], change: "c" | "u"): void {
    const at = Date.now();
    const messages = tasks.flatMap((task) =>
      task === undefined ? [] : [encodeStatus(task, change, at)],
    );
    if (messages.length === 0) return;
    void this.#send((pipeline) => {
      for (const message of messages) pipeline.publish(this.#channel, message);
    }, true);
  }

  /**
   * Queues commands for this turn's pipeline, or with `soon` for the one sent
   * after the current callback's promise continuations; never rejects (a
   * failure is logged).
   */
  #send(commands: Commands, soon = false): Promise<void> {
    return new Promise((done) => {
      if (this.#batch.length === 0) setImmediate(() => this.#flush());
      this.#batch.push({ commands, done });
      if (soon && !this.#soon) {
        this.#soon = true;
        // nextTick runs once the microtask queue is empty, so every task the
        // same statement answered has queued its change by then.
        process.nextTick(() => {
          this.#soon = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    const pipeline = this.redis.pipeline();
    for (const { commands } of batch) commands(pipeline);
    pipeline
      .exec()
      .then((results) => {
        const failed = results?.find(([err]) => err !== null)?.[0];
        if (failed) this.log.warn({ err: failed }, "could not publish task events");
      })
      .catch((err: unknown) => this.log.warn({ err }, "could not publish task events"))
      .finally(() => {
        for (const { done } of batch) done();
      });
  }

  output(taskId: string, attempt: number): OutputWriter {
    const key = outputKey(this.prefix, taskId, attempt);
    let offset = 0;
    let pending = "";
    let timer: NodeJS.Timeout | undefined;
    let sending: Promise<void> = Promise.resolve();
    const send = (ttlSeconds: number): Promise<void> => {
      clearTimeout(timer);
      timer = undefined;
      if (pending === "") return sending;
      const text = pending;
      const off = offset;
      pending = "";
      offset += text.length;
      // Chained, so deltas reach Redis in order.
      sending = sending.then(() =>
        this.#send((pipeline) =>
          pipeline
            .append(key, text)
            .expire(key, ttlSeconds)
            .publish(
              this.#channel,
              encodeMessage({ k: "o", id: taskId, attempt, off, t: text, at: Date.now() }),
            ),
        ),
      );
      return sending;
    };
    return {
      append: (text) => {
        if (text === "") return;
        pending += text;
        if (pending.length >= this.batching.maxChars) void send(OUTPUT_TTL_SECONDS);
        else timer ??= setTimeout(() => void send(OUTPUT_TTL_SECONDS), this.batching.intervalMs);
      },
      flush: () => send(OUTPUT_TTL_SECONDS),
      finish: async () => {
        // The last delta carries the shorter expiry itself; only output
        // already sent in full needs it on its own.
        if (pending !== "") return send(FINISHED_OUTPUT_TTL_SECONDS);
        await sending;
        if (offset > 0) {
          await this.#send((pipeline) => pipeline.expire(key, FINISHED_OUTPUT_TTL_SECONDS));
        }
      },
    };
  }
}

/** Reads the output an attempt has written so far (empty when none is kept). */
export async function readOutput(
  redis: Redis,
  prefix: string,
  taskId: string,
  attempt: number,
): Promise<string> {
  return (await redis.get(outputKey(prefix, taskId, attempt))) ?? "";
}
