import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import {
  ListTasksRequestSchema,
  type WatchTaskRequest,
  type WatchTaskResponse,
  WatchTaskResponseSchema,
  type WatchTasksRequest,
  type WatchTasksResponse,
  WatchTasksResponse_Change,
  WatchTasksResponseSchema,
} from "@promptline/proto";
import type { Redis } from "ioredis";
import type { Kysely } from "kysely";
import { visibleOwner } from "../auth/principal.js";
import type { DependencyRow } from "../db/graph.js";
import type { DB, TaskRow } from "../db/schema.js";
import { idsMatchingQuery, type TaskListFilter } from "../db/tasks.js";
import type { FeedEvent, TaskFeed } from "../events/feed.js";
import { readOutput } from "../events/publisher.js";
import type { TaskLifecycle } from "../tasks/lifecycle.js";
import { isTerminal } from "../tasks/status.js";
import { taskToProto, taskWithDependenciesToProto } from "./convert.js";
import { parseListTasks, parseTaskId } from "./validation.js";

export interface WatchDeps {
  tasks: TaskLifecycle;
  feed: TaskFeed;
  db: Kysely<DB>;
  /** Reads the partial output of running attempts. */
  redis: Redis;
  prefix: string;
  /** A WatchTasks stream with nothing to say sends a heartbeat this often. */
  heartbeatMs?: number;
}

/**
 * The server streams. Every change comes from the process's {@link TaskFeed};
 * PostgreSQL (task rows) and Redis (output being written) fill in what a
 * watcher missed, so a stream resumed with its cursor has no gap and no
 * duplicate.
 */
export class WatchHandlers {
  constructor(private readonly deps: WatchDeps) {}

  async *watchTask(req: WatchTaskRequest, ctx: HandlerContext): AsyncGenerator<WatchTaskResponse> {
    const id = parseTaskId(req.id);
    // Subscribe before reading the snapshot, so nothing falls between the two.
    const subscription = this.deps.feed.watchTask(id);
    const stop = () => subscription.close();
    ctx.signal.addEventListener("abort", stop, { once: true });
    try {
      // A task's dependencies are fixed when it is created: read once, sent with every row.
      const { task: row, dependencies } = await this.deps.tasks.getWithDependencies(id);
      let seq = row.seq;
      let attempt = row.attempts;
      const output = await this.outputSoFar(row);
      const resumeAt =
        req.outputAttempt === attempt &&
        req.outputOffset > 0n &&
        req.outputOffset <= BigInt(output.length)
          ? Number(req.outputOffset)
          : 0;
      let have = output.length;
      yield message(
        { ...row, output: resumeAt > 0 ? "" : output },
        dependencies,
        { seq, attempt, have: resumeAt > 0 ? resumeAt : have },
        Date.now(),
      );
      if (resumeAt > 0 && resumeAt < output.length) {
        yield delta(attempt, resumeAt, output.slice(resumeAt), { seq, attempt, have }, Date.now());
      }
      if (isTerminal(row.status)) return;

      for await (const event of subscription) {
        if (event.kind === "deleted") return;
        if (event.kind === "task") {
          if (event.row.seq <= seq) continue;
          seq = event.row.seq;
          if (event.row.attempts !== attempt) {
            attempt = event.row.attempts;
            have = 0;
          }
          if (isTerminal(event.row.status)) {
            have = event.row.output.length;
            yield message(event.row, dependencies, { seq, attempt, have }, event.publishedAt);
            return;
          }
          yield message(
            { ...event.row, output: "" },
            dependencies,
            { seq, attempt, have },
            event.publishedAt,
          );
          continue;
        }
        if (event.attempt < attempt) continue;
        if (event.attempt > attempt) {
          attempt = event.attempt;
          have = 0;
        }
        const caughtUp = await this.#applyDelta(id, event, attempt, have);
        if (caughtUp === undefined) continue;
        const from = have;
        have = from + caughtUp.length;
        yield delta(attempt, from, caughtUp, { seq, attempt, have }, event.publishedAt);
      }
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      subscription.close();
    }
  }

  async *watchTasks(
    req: WatchTasksRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<WatchTasksResponse> {
    const filter = {
      ...parseListTasks(
        create(ListTasksRequestSchema, {
          statuses: req.statuses,
          model: req.model,
          query: req.query,
          priority: req.priority,
          parentTaskId: req.parentTaskId,
          chainId: req.chainId,
        }),
      ),
      ownerId: visibleOwner(ctx),
    };
    const subscription = this.deps.feed.watchAll();
    const heartbeatMs = this.deps.heartbeatMs ?? 15_000;
    const heartbeat = () =>
      create(WatchTasksResponseSchema, {
        change: WatchTasksResponse_Change.UNSPECIFIED,
        publishedAt: timestampFromMs(Date.now()),
      });
    // Heartbeats go through the same queue as events, so order is kept.
    const stop = () => subscription.close();
    ctx.signal.addEventListener("abort", stop, { once: true });
    const iterator = subscription[Symbol.asyncIterator]();
    try {
      // Sent at once: tells the client (and any proxy) that the stream is live.
      yield heartbeat();
      // One next() stays pending across heartbeats, so no event is dropped.
      let pending: Promise<IteratorResult<FeedEvent>> | undefined;
      for (;;) {
        pending ??= iterator.next();
        const next = await orTimeout(pending, heartbeatMs);
        if (next === "timeout") {
          yield heartbeat();
          continue;
        }
        pending = undefined;
        if (next.done === true) return;
        const response = await this.#listChange(next.value, filter);
        if (response !== undefined) yield response;
      }
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      subscription.close();
    }
  }

  async #listChange(
    event: FeedEvent,
    filter: TaskListFilter,
  ): Promise<WatchTasksResponse | undefined> {
    if (event.kind === "output") return undefined;
    if (event.kind === "deleted") {
      // Another user's deletion is none of a member's business (not even its id).
      if (filter.ownerId !== undefined && event.ownerId !== filter.ownerId) return undefined;
      return create(WatchTasksResponseSchema, {
        change: WatchTasksResponse_Change.DELETED,
        task: { id: event.id },
        publishedAt: timestampFromMs(event.publishedAt),
      });
    }
    const row = event.row;
    if (filter.ownerId !== undefined && row.owner_id !== filter.ownerId) return undefined;
    // Status is left for the client to check: a task leaving the filtered
    // statuses must still reach it, so the row can go.
    if (filter.model !== undefined && row.model !== filter.model) return undefined;
    if (filter.priority !== undefined && row.priority !== filter.priority) return undefined;
    if (filter.parentTaskId !== undefined && row.parent_task_id !== filter.parentTaskId)
      return undefined;
    if (filter.chainId !== undefined && row.chain_id !== filter.chainId) return undefined;
    if (
      filter.query !== undefined &&
      !(await idsMatchingQuery(this.deps.db, [row.id], filter.query)).has(row.id)
    ) {
      return undefined;
    }
    return create(WatchTasksResponseSchema, {
      change:
        event.change === "created"
          ? WatchTasksResponse_Change.CREATED
          : WatchTasksResponse_Change.UPDATED,
      task: taskToProto({ ...row, output: "" }),
      publishedAt: timestampFromMs(event.publishedAt),
    });
  }

  /** The output a watcher starts from: the final one, or what is written so far. */
  async outputSoFar(row: TaskRow): Promise<string> {
    if (row.status !== "running") return row.output;
    // Best effort: with Redis away the task is still readable, without the partial output.
    return readOutput(this.deps.redis, this.deps.prefix, row.id, row.attempts).catch(
      () => row.output,
    );
  }

  /**
   * The part of a delta the watcher lacks: none for a duplicate, a slice for
   * an overlap, and for a gap (a message this process missed) everything
   * since, read from the attempt's output in Redis.
   */
  async #applyDelta(
    id: string,
    event: Extract<FeedEvent, { kind: "output" }>,
    attempt: number,
    have: number,
  ): Promise<string | undefined> {
    if (event.offset > have) {
      const full = await readOutput(this.deps.redis, this.deps.prefix, id, attempt);
      return full.length > have ? full.slice(have) : undefined;
    }
    const end = event.offset + event.text.length;
    if (end <= have) return undefined;
    return event.text.slice(have - event.offset);
  }
}

interface Cursor {
  seq: number;
  attempt: number;
  have: number;
}

/** A task row as a WatchTask message; `row.output` is what the watcher lacks of it. */
function message(
  row: TaskRow,
  dependencies: readonly DependencyRow[],
  cursor: Cursor,
  publishedAt: number,
): WatchTaskResponse {
  return create(WatchTaskResponseSchema, {
    event: { case: "task", value: taskWithDependenciesToProto(row, dependencies) },
    seq: cursor.seq,
    outputAttempt: cursor.attempt,
    outputOffset: BigInt(cursor.have),
    publishedAt: timestampFromMs(publishedAt),
  });
}

function delta(
  attempt: number,
  offset: number,
  text: string,
  cursor: Cursor,
  publishedAt: number,
): WatchTaskResponse {
  return create(WatchTaskResponseSchema, {
    event: { case: "output", value: { attempt, offset: BigInt(offset), text } },
    seq: cursor.seq,
    outputAttempt: cursor.attempt,
    outputOffset: BigInt(cursor.have),
    publishedAt: timestampFromMs(publishedAt),
  });
}

async function orTimeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
