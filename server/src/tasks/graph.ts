import type { Kysely } from "kysely";
import type { Logger } from "pino";
import {
  blockedByFailure,
  cancelDownstream,
  childrenOf,
  readyToDispatch,
  saveRenderedPrompt,
  upstreamOutputs,
} from "../db/graph.js";
import type { DB, TaskRow } from "../db/schema.js";
import { markManyQueued } from "../db/task-writes.js";
import type { TaskNotifier } from "../events/publisher.js";
import type { TaskQueue } from "../queue/task-queue.js";
import { hasReferences, render } from "./template.js";
import { batchPerTurn } from "./turn-batch.js";

/** What the graph needs of a task that reached a terminal state. */
type FinishedTask = Pick<TaskRow, "id" | "status" | "error_code">;

/**
 * How output flows along edges: a task waits for every upstream task
 * (parent and dependencies) to complete, then is enqueued; if one fails or is
 * cancelled, everything downstream ends cancelled with UPSTREAM_FAILED.
 */
export class TaskGraph {
  constructor(
    private readonly deps: {
      db: Kysely<DB>;
      queue: TaskQueue;
      notifier: TaskNotifier;
      log: Logger;
    },
  ) {}

  /**
   * Call after tasks reached a terminal state (committed). Each finisher
   * checks after its own commit, so the last upstream to finish always sees
   * the others finished: a dependent is never left waiting.
   */
  async finished(rows: readonly (FinishedTask | undefined)[]): Promise<void> {
    const completed: string[] = [];
    for (const row of rows) {
      if (row === undefined) continue;
      if (row.status === "completed") completed.push(row.id);
      else if (row.status === "failed" || row.status === "cancelled")
        await this.#cancelDownstreamOf(row);
    }
    if (completed.length > 0) await this.#dispatchChildrenOf(completed);
  }

  /**
   * Dispatches the children of tasks that completed in this turn of the event
   * loop with one lookup rather than one per task: with many tasks running,
   * completions arrive together. Each caller joins a lookup that starts after
   * its own commit, so the guarantee above holds.
   */
  readonly #dispatchChildrenOf = batchPerTurn(async (batches: readonly (readonly string[])[]) => {
    await this.dispatch(await childrenOf(this.deps.db, batches.flat()));
    return batches.map(() => true);
  });

  /** Enqueues those of `ids` that are pending, due, and have every upstream completed. */
  async dispatch(ids: readonly string[]): Promise<TaskRow[]> {
    const ready = await readyToDispatch(this.deps.db, ids);
    if (ready.length === 0) return [];
    await this.deps.queue.enqueueMany(
      ready.map((row) => ({ taskId: row.id, priority: row.priority, model: row.model })),
    );
    const queued = await markManyQueued(
      this.deps.db,
      ready.map((row) => row.id),
    );
    this.deps.notifier.changed(queued);
    return queued;
  }

  /** New tasks whose upstream already failed end cancelled at once. */
  async cancelBlocked(ids: readonly string[]): Promise<void> {
    const blocked = await blockedByFailure(this.deps.db, ids);
    const seen = new Set<string>();
    for (const b of blocked) {
      if (seen.has(b.upstream_id)) continue;
      seen.add(b.upstream_id);
      const cancelled = await cancelDownstream(
        this.deps.db,
        b.upstream_id,
        `upstream task ${b.upstream_id} is ${b.upstream_status}`,
      );
      this.deps.notifier.changed(cancelled);
    }
  }

  async #cancelDownstreamOf(row: FinishedTask): Promise<void> {
    const cancelled = await cancelDownstream(
      this.deps.db,
      row.id,
      `upstream task ${row.id} ${row.status === "failed" ? `failed (${row.error_code ?? "error"})` : "was cancelled"}`,
    );
    if (cancelled.length > 0) {
      this.deps.log.info(
        { taskId: row.id, cancelled: cancelled.length },
        "cancelled tasks downstream",
      );
      this.deps.notifier.changed(cancelled);
    }
  }

  /**
   * The prompt and system prompt as sent: references replaced by upstream
   * outputs and variables. Stored on the task when it had references.
   */
  async rendered(task: TaskRow): Promise<{ prompt: string; systemPrompt: string }> {
    if (!hasReferences(task.prompt) && !hasReferences(task.system_prompt)) {
      return { prompt: task.prompt, systemPrompt: task.system_prompt };
    }
    const upstream = await upstreamOutputs(this.deps.db, task.id);
    const context = {
      parentOutput: upstream.find((u) => u.kind === "derived")?.output,
      deps: new Map(
        upstream.flatMap((u) => (u.name === null ? [] : [[u.name, u.output] as const])),
      ),
      vars: task.vars,
    };
    const prompt = render(task.prompt, context);
    const systemPrompt = render(task.system_prompt, context);
    await saveRenderedPrompt(this.deps.db, task.id, prompt);
    return { prompt, systemPrompt };
  }
}
