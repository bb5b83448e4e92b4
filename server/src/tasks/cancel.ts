import type { Kysely } from "kysely";
import type { DB } from "../db/schema.js";
import { cancelWaitingTask, findTask, requestCancel, type TaskRow } from "../db/tasks.js";
import type { TaskNotifier } from "../events/publisher.js";
import type { TaskQueue } from "../queue/task-queue.js";
import { TaskNotFoundError, TaskStateError } from "./errors.js";
import type { TaskGraph } from "./graph.js";

/**
 * CancelTask. A task not yet running ends `cancelled` at once and its job is
 * removed; a running task gets `cancel_requested_at` and a broadcast that
 * reaches whichever worker holds it, which aborts the provider call and ends
 * the task `cancelled`. A finished task cannot be cancelled.
 */
export class TaskCanceller {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly queue: TaskQueue,
    private readonly notifier: TaskNotifier,
    private readonly graph: TaskGraph,
  ) {}

  async cancel(id: string): Promise<TaskRow> {
    const task = await cancelTask(this.db, this.queue, id);
    this.notifier.changed([task]);
    // A running task's downstream is cancelled when its worker ends it.
    await this.graph.finished([task]);
    return task;
  }
}

async function cancelTask(db: Kysely<DB>, queue: TaskQueue, id: string): Promise<TaskRow> {
  const cancelled = await cancelWaitingTask(db, id);
  if (cancelled !== undefined) {
    // A worker that already received the job finds the task cancelled and drops it.
    await queue.remove(id);
    return cancelled;
  }
  const running = await requestCancel(db, id);
  if (running !== undefined) {
    await queue.publishCancel(id);
    return running;
  }
  const task = await findTask(db, id);
  if (task === undefined) throw new TaskNotFoundError(id);
  // It may have moved between the two updates; one more round settles it.
  if (task.status === "pending" || task.status === "queued" || task.status === "running") {
    return cancelTask(db, queue, id);
  }
  throw new TaskStateError(
    `task ${id} is ${task.status}; only pending, queued or running tasks can be cancelled`,
  );
}
