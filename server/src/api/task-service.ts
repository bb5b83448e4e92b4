import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type BatchCreateTasksRequest,
  BatchCreateTasksResponseSchema,
  type CancelChainRequest,
  CancelChainResponseSchema,
  type CancelTaskRequest,
  CancelTaskResponseSchema,
  type CancelTasksRequest,
  CancelTasksResponseSchema,
  type CreateTaskRequest,
  CreateTaskResponseSchema,
  type DeleteTaskRequest,
  DeleteTaskResponseSchema,
  type DeleteTasksRequest,
  DeleteTasksResponseSchema,
  type GetTaskLineageRequest,
  GetTaskLineageResponseSchema,
  type GetTaskMetricsRequest,
  type GetTaskRequest,
  GetTaskResponseSchema,
  ListModelsResponseSchema,
  type ListTasksRequest,
  ListTasksResponseSchema,
  ListWorkersResponseSchema,
  ModelSchema,
  type RerunTaskRequest,
  RerunTaskResponseSchema,
  type RetryFromTaskRequest,
  RetryFromTaskResponseSchema,
  type RetryTaskRequest,
  RetryTaskResponseSchema,
  type RetryTasksRequest,
  RetryTasksResponseSchema,
  type TaskActionResult,
  TaskActionResultSchema,
  type TaskService,
  type WatchTaskRequest,
  type WatchTasksRequest,
} from "@promptline/proto";
import { ownerOf, visibleOwner } from "../auth/principal.js";
import type { TaskRow } from "../db/tasks.js";
import type { ProviderRegistry } from "../llm/providers.js";
import { forEachTask, type TaskActionOutcome } from "../tasks/bulk.js";
import type { TaskCanceller } from "../tasks/cancel.js";
import type { ChainOperations } from "../tasks/chains.js";
import type { TaskLifecycle } from "../tasks/lifecycle.js";
import type { Operations } from "../tasks/operations.js";
import { kRequestId } from "./context.js";
import {
  attemptToProto,
  chainTotalsToProto,
  eventToProto,
  lineageEdgeToProto,
  statusToProtoEnum,
  taskToProto,
  taskWithDependenciesToProto,
} from "./convert.js";
import { queueStatsToProto, taskMetricsToProto, workerToProto } from "./ops-convert.js";
import {
  encodePageToken,
  parseBatchCreateTasks,
  parseCreateTask,
  parseListTasks,
  parseRerun,
  parseTaskId,
  parseTaskIds,
  parseTaskMetrics,
} from "./validation.js";
import type { WatchHandlers } from "./watch.js";

export interface TaskServiceHandlerDeps {
  tasks: TaskLifecycle;
  providers: ProviderRegistry;
  canceller: TaskCanceller;
  ops: Operations;
  watch: WatchHandlers;
  chains: ChainOperations;
}

/** TaskService over Connect, gRPC and gRPC-web: translate, delegate, translate back. */
export class TaskServiceHandler implements ServiceImpl<typeof TaskService> {
  private readonly tasks: TaskLifecycle;
  private readonly providers: ProviderRegistry;
  private readonly canceller: TaskCanceller;
  private readonly ops: Operations;
  private readonly watch: WatchHandlers;
  private readonly chains: ChainOperations;

  constructor(deps: TaskServiceHandlerDeps) {
    this.chains = deps.chains;
    this.watch = deps.watch;
    this.tasks = deps.tasks;
    this.providers = deps.providers;
    this.canceller = deps.canceller;
    this.ops = deps.ops;
  }

  async getTaskLineage(req: GetTaskLineageRequest) {
    const lineage = await this.chains.lineage(parseTaskId(req.id));
    return create(GetTaskLineageResponseSchema, {
      tasks: lineage.tasks.map((row) => taskToProto({ ...row, output: "" })),
      edges: lineage.edges.map(lineageEdgeToProto),
      totals: chainTotalsToProto(lineage.chain),
    });
  }

  async cancelChain(req: CancelChainRequest) {
    const tasks = await this.chains.cancelChain(parseTaskId(req.taskId, "task_id"));
    return create(CancelChainResponseSchema, { tasks: tasks.map(taskToProto) });
  }

  async retryFromTask(req: RetryFromTaskRequest) {
    const tasks = await this.chains.retryFrom(parseTaskId(req.id));
    return create(RetryFromTaskResponseSchema, { tasks: tasks.map(taskToProto) });
  }

  async rerunTask(req: RerunTaskRequest, ctx: HandlerContext) {
    const task = await this.chains.rerun(parseTaskId(req.id), parseRerun(req, requestId(ctx)));
    return create(RerunTaskResponseSchema, { task: taskToProto(task) });
  }

  watchTask(req: WatchTaskRequest, ctx: HandlerContext) {
    return this.watch.watchTask(req, ctx);
  }

  watchTasks(req: WatchTasksRequest, ctx: HandlerContext) {
    return this.watch.watchTasks(req, ctx);
  }

  async cancelTask(req: CancelTaskRequest) {
    const task = await this.canceller.cancel(parseTaskId(req.id));
    return create(CancelTaskResponseSchema, { task: taskToProto(task) });
  }

  async createTask(req: CreateTaskRequest, ctx: HandlerContext) {
    const input = parseCreateTask(req, requestId(ctx));
    const task = await this.tasks.create({ ...input, ownerId: ownerOf(ctx) });
    // No read when the request named no dependencies (a replay's task has the same).
    const deps =
      input.dependsOn.length === 0 ? undefined : await this.tasks.dependencies([task.id]);
    return create(CreateTaskResponseSchema, {
      task: taskWithDependenciesToProto(task, deps?.get(task.id)),
    });
  }

  async batchCreateTasks(req: BatchCreateTasksRequest, ctx: HandlerContext) {
    const batch = parseBatchCreateTasks(req, requestId(ctx));
    const ownerId = ownerOf(ctx);
    const tasks = await this.tasks.createBatch({
      ...batch,
      tasks: batch.tasks.map((task) => ({ ...task, ownerId })),
    });
    const deps = batch.tasks.some((t) => t.dependsOn.length > 0)
      ? await this.tasks.dependencies(tasks.map((t) => t.id))
      : undefined;
    return create(BatchCreateTasksResponseSchema, {
      tasks: tasks.map((t) => taskWithDependenciesToProto(t, deps?.get(t.id))),
    });
  }

  async getTask(req: GetTaskRequest) {
    const { task, attempts, events, dependencies } = await this.tasks.getWithHistory(
      parseTaskId(req.id),
    );
    // A running task's output grows in Redis until it is stored at the end.
    const output = task.status === "running" ? await this.watch.outputSoFar(task) : task.output;
    return create(GetTaskResponseSchema, {
      task: taskWithDependenciesToProto({ ...task, output }, dependencies),
      attempts: attempts.map(attemptToProto),
      events: events.map(eventToProto),
    });
  }

  async retryTask(req: RetryTaskRequest) {
    const task = await this.tasks.retry(parseTaskId(req.id));
    return create(RetryTaskResponseSchema, { task: taskToProto(task) });
  }

  async cancelTasks(req: CancelTasksRequest, ctx: HandlerContext) {
    const outcomes = await this.forEachOwn(req.ids, ctx, (id) => this.canceller.cancel(id));
    return create(CancelTasksResponseSchema, { results: outcomes.map(actionResult) });
  }

  async retryTasks(req: RetryTasksRequest, ctx: HandlerContext) {
    const outcomes = await this.forEachOwn(req.ids, ctx, (id) => this.tasks.retry(id));
    return create(RetryTasksResponseSchema, { results: outcomes.map(actionResult) });
  }

  async deleteTasks(req: DeleteTasksRequest, ctx: HandlerContext) {
    const outcomes = await this.forEachOwn(req.ids, ctx, async (id) => {
      await this.tasks.delete(id);
      return undefined;
    });
    return create(DeleteTasksResponseSchema, { results: outcomes.map(actionResult) });
  }

  /** A bulk action on the caller's tasks: another user's is that item's NotFound (rule `eachOwn`). */
  private async forEachOwn<T>(
    rawIds: readonly string[],
    ctx: HandlerContext,
    action: (id: string) => Promise<T>,
  ): Promise<Array<TaskActionOutcome<T>>> {
    const ids = parseTaskIds(rawIds);
    return forEachTask(ids, await this.tasks.hiddenTasks(visibleOwner(ctx), ids), action);
  }

  async deleteTask(req: DeleteTaskRequest) {
    await this.tasks.delete(parseTaskId(req.id));
    return create(DeleteTaskResponseSchema, {});
  }

  async listTasks(req: ListTasksRequest, ctx: HandlerContext) {
    const filter = { ...parseListTasks(req), ownerId: visibleOwner(ctx) };
    const { rows, counts, next } = await this.tasks.list(filter, {
      withCounts: req.includeStatusCounts,
    });
    return create(ListTasksResponseSchema, {
      tasks: rows.map(taskToProto),
      nextPageToken: next === undefined ? "" : encodePageToken(filter.sort, next),
      statusCounts: counts.map((c) => ({
        status: statusToProtoEnum(c.status),
        count: BigInt(c.count),
      })),
    });
  }

  async listModels() {
    // A provider that is down is left out; the others are still listed.
    const { models } = await this.providers.listModels();
    return create(ListModelsResponseSchema, {
      models: models.map((m) =>
        create(ModelSchema, {
          id: m.id,
          provider: m.provider,
          ownedBy: m.ownedBy,
          contextLength: m.contextLength ?? 0,
          simulated: m.simulated,
        }),
      ),
    });
  }

  async getQueueStats() {
    return queueStatsToProto(await this.ops.queueStats());
  }

  async getTaskMetrics(req: GetTaskMetricsRequest) {
    const range = parseTaskMetrics(req);
    return taskMetricsToProto(await this.ops.taskMetrics(range), range.bucketSeconds);
  }

  async listWorkers() {
    const workers = await this.ops.workers();
    return create(ListWorkersResponseSchema, { workers: workers.map(workerToProto) });
  }
}

/** A bulk outcome on the wire: the task after the action, or the code and reason it was refused. */
function actionResult(outcome: TaskActionOutcome<TaskRow | undefined>): TaskActionResult {
  if (!outcome.ok) {
    return create(TaskActionResultSchema, {
      id: outcome.id,
      errorCode: outcome.code,
      errorMessage: outcome.message,
    });
  }
  return create(TaskActionResultSchema, {
    id: outcome.id,
    ...(outcome.value !== undefined ? { task: taskToProto(outcome.value) } : {}),
  });
}

function requestId(ctx: HandlerContext): string {
  return ctx.values.get(kRequestId);
}
