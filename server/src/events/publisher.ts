import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { encodeMessage, eventsChannel, outputKey } from "./messages.js";

/** A task as a status notification needs it. */
export interface ChangedTask {
  id: string;
  seq: number;
}

/**
 * Tells every process that tasks changed, after the change committed.
 * Fire-and-forget: a lost message costs a watcher nothing it cannot catch up
 * on, because PostgreSQL stays the truth.
 */
export interface TaskNotifier {
  created(tasks: readonly ChangedTask[]): void;
  changed(tasks: readonly (ChangedTask | undefined)[]): void;
  deleted(ids: readonly string[]): void;
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

/** Publishes over Redis pub/sub on one channel per deployment (queue prefix). */
export class RedisTaskNotifier implements TaskNotifier {
  readonly #channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly batching: OutputBatching = { intervalMs: 50, maxChars: 2_048 },
  ) {
    this.#channel = eventsChannel(prefix);
  }

  created(tasks: readonly ChangedTask[]): void {
    this.#publishStatus(tasks, "c");
  }

  changed(tasks: readonly (ChangedTask | undefined)[]): void {
    this.#publishStatus(tasks, "u");
  }

  deleted(ids: readonly string[]): void {
    this.#publishStatus(
      ids.map((id) => ({ id, seq: Number.MAX_SAFE_INTEGER })),
      "d",
    );
  }

  #publishStatus(tasks: readonly (ChangedTask | undefined)[], change: "c" | "u" | "d"): void {
    const at = Date.now();
    const pipeline = this.redis.pipeline();
    let count = 0;
    for (const task of tasks) {
      if (task === undefined) continue;
      pipeline.publish(
        this.#channel,
        encodeMessage({ k: "s", id: task.id, seq: task.seq, c: change, at }),
      );
      count++;
    }
    if (count === 0) return;
    pipeline
      .exec()
      .catch((err: unknown) => this.log.warn({ err }, "could not publish task events"));
  }

  output(taskId: string, attempt: number): OutputWriter {
    const key = outputKey(this.prefix, taskId, attempt);
    let offset = 0;
    let pending = "";
    let timer: NodeJS.Timeout | undefined;
    let sending: Promise<void> = Promise.resolve();
    const send = (): Promise<void> => {
      clearTimeout(timer);
      timer = undefined;
      if (pending === "") return sending;
      const text = pending;
      const off = offset;
      pending = "";
      offset += text.length;
      // Chained, so deltas reach Redis in order.
      sending = sending.then(async () => {
        try {
          await this.redis
            .pipeline()
            .append(key, text)
            .expire(key, OUTPUT_TTL_SECONDS)
            .publish(
              this.#channel,
              encodeMessage({ k: "o", id: taskId, attempt, off, t: text, at: Date.now() }),
            )
            .exec();
        } catch (err) {
          this.log.warn({ err, taskId }, "could not publish output");
        }
      });
      return sending;
    };
    return {
      append: (text) => {
        if (text === "") return;
        pending += text;
        if (pending.length >= this.batching.maxChars) void send();
        else timer ??= setTimeout(send, this.batching.intervalMs);
      },
      flush: send,
      finish: async () => {
        await send();
        await this.redis.expire(key, FINISHED_OUTPUT_TTL_SECONDS).catch(() => 0);
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
