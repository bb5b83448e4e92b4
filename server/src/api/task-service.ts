import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type CancelTaskRequest,
  CancelTaskResponseSchema,
  type CreateTaskRequest,
  CreateTaskResponseSchema,
  type GetTaskRequest,
  GetTaskResponseSchema,
  ListModelsResponseSchema,
  type ListTasksRequest,
  ListTasksResponseSchema,
  ModelSchema,
  type TaskService,
} from "@promptline/proto";
import type { ProviderRegistry } from "../llm/providers.js";
import type { TaskCanceller } from "../tasks/cancel.js";
import type { TaskLifecycle } from "../tasks/lifecycle.js";
import { kRequestId } from "./context.js";
import { taskToProto } from "./convert.js";
import { encodePageToken, parseCreateTask, parseListTasks, parseTaskId } from "./validation.js";

/** TaskService over Connect, gRPC and gRPC-web: translate, delegate, translate back. */
export class TaskServiceHandler implements Partial<ServiceImpl<typeof TaskService>> {
  constructor(
    private readonly tasks: TaskLifecycle,
    private readonly providers: ProviderRegistry,
    private readonly canceller: TaskCanceller,
  ) {}

  async cancelTask(req: CancelTaskRequest) {
    const task = await this.canceller.cancel(parseTaskId(req.id));
    return create(CancelTaskResponseSchema, { task: taskToProto(task) });
  }

  async createTask(req: CreateTaskRequest, ctx: HandlerContext) {
    const task = await this.tasks.create(parseCreateTask(req, requestId(ctx)));
    return create(CreateTaskResponseSchema, { task: taskToProto(task) });
  }

  async getTask(req: GetTaskRequest) {
    const task = await this.tasks.get(parseTaskId(req.id));
    return create(GetTaskResponseSchema, { task: taskToProto(task) });
  }

  async listTasks(req: ListTasksRequest) {
    const filter = parseListTasks(req);
    // One extra row tells whether another page exists without a count query.
    const rows = await this.tasks.list({ ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    const last = page.at(-1);
    return create(ListTasksResponseSchema, {
      tasks: page.map(taskToProto),
      nextPageToken:
        rows.length > filter.limit && last !== undefined ? encodePageToken(last.id) : "",
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
}

function requestId(ctx: HandlerContext): string {
  return ctx.values.get(kRequestId);
}
