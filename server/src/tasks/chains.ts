import type { Kysely } from "kysely";
import {
  connectedTaskIds,
  type LineageEdgeRow,
  lineageEdges,
  resetDownstream,
} from "../db/graph.js";
import type { DB, TaskRow } from "../db/schema.js";
import { findTasksById } from "../db/task-writes.js";
import type { TaskParamsJson } from "../db/tasks.js";
import type { TaskNotifier } from "../events/publisher.js";
import type { TaskCanceller } from "./cancel.js";
import { TaskStateError } from "./errors.js";
import type { TaskGraph } from "./graph.js";
import type { TaskLifecycle } from "./lifecycle.js";
import { isTerminal } from "./status.js";

export interface Lineage {
  tasks: TaskRow[];
  edges: LineageEdgeRow[];
  /** Every task of the connected graph, for its totals. */
  chain: TaskRow[];
}

export interface RerunEdits {
  prompt: string | undefined;
  model: string | undefined;
  systemPrompt: string | undefined;
  params: TaskParamsJson | undefined;
  requestId: string;
}

/** Operations on a whole graph of tasks: lineage, cancel all, retry from a node, re-run as a branch. */
export class ChainOperations {
  constructor(
    private readonly deps: {
      db: Kysely<DB>;
      tasks: TaskLifecycle;
      canceller: TaskCanceller;
      graph: TaskGraph;
      notifier: TaskNotifier;
    },
  ) {}

  async lineage(id: string): Promise<Lineage> {
    const task = await this.deps.tasks.get(id);
    const edges = await lineageEdges(this.deps.db, id);
    const ids = new Set([id, ...edges.flatMap((e) => [e.parent_id, e.child_id])]);
    const chainIds = await connectedTaskIds(this.deps.db, id);
    const chain = await findTasksById(this.deps.db, chainIds);
    const byId = new Map(chain.map((row) => [row.id, row]));
    byId.set(task.id, task);
    return { tasks: [...ids].flatMap((i) => byId.get(i) ?? []), edges, chain };
  }

  /** Cancels every unfinished task connected to `id`; running ones are asked to stop. */
  async cancelChain(id: string): Promise<TaskRow[]> {
    await this.deps.tasks.get(id);
    const chain = await findTasksById(this.deps.db, await connectedTaskIds(this.deps.db, id));
    const cancelled: TaskRow[] = [];
    // Upstream first, so downstream tasks end as UPSTREAM_FAILED from their cause.
    for (const row of chain.sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (isTerminal(row.status)) continue;
      try {
        cancelled.push(await this.deps.canceller.cancel(row.id));
      } catch (error) {
        // Finished or cancelled by the cascade meanwhile: nothing to do.
        if (!(error instanceof TaskStateError)) throw error;
      }
    }
    return cancelled;
  }

  /**
   * Retries a failed or cancelled task; the failed or cancelled tasks
   * downstream go back to pending and run once it completes.
   */
  async retryFrom(id: string): Promise<TaskRow[]> {
    const retried = await this.deps.tasks.retry(id);
    const reset = await resetDownstream(this.deps.db, id);
    this.deps.notifier.changed(reset);
    return [retried, ...reset];
  }

  /** A new task with the same parent and dependencies, and the edits; the original stays. */
  async rerun(id: string, edits: RerunEdits): Promise<TaskRow> {
    const original = await this.deps.tasks.get(id);
    const upstream = await lineageEdges(this.deps.db, id);
    const dependsOn = upstream
      .filter((e) => e.child_id === id && e.kind === "depends_on")
      .map((e) => ({ taskId: e.parent_id, name: e.name ?? undefined }));
    return this.deps.tasks.create({
      name: original.name,
      prompt: edits.prompt ?? original.prompt,
      systemPrompt: edits.systemPrompt ?? original.system_prompt,
      model: edits.model ?? original.model,
      params: edits.params ?? (original.params as TaskParamsJson),
      priority: original.priority,
      parentTaskId: original.parent_task_id ?? undefined,
      metadata: { ...(original.metadata as Record<string, string>), rerun_of: original.id },
      requestId: edits.requestId,
      maxAttempts: original.max_attempts,
      timeoutMs: original.timeout_ms ?? undefined,
      queueTtlMs: original.queue_ttl_ms ?? undefined,
      runAt: undefined,
      idempotency: undefined,
      dependsOn,
      vars: original.vars,
      ref: undefined,
      parentRef: undefined,
      // A chain has one owner: the branch is the original's owner's, whoever re-ran it.
      ownerId: original.owner_id,
    });
  }
}
