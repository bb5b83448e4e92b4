import { create, type DescMessage, isMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  BatchCreateTasksRequestSchema,
  CancelChainRequestSchema,
  CancelTaskRequestSchema,
  CancelTasksRequestSchema,
  CreateTaskRequestSchema,
  CreateTemplateRequestSchema,
  DeleteTaskRequestSchema,
  DeleteTasksRequestSchema,
  DeleteTemplateRequestSchema,
  GetQueueStatsRequestSchema,
  GetTaskLineageRequestSchema,
  GetTaskMetricsRequestSchema,
  GetTaskRequestSchema,
  GetTemplateRequestSchema,
  HealthCheckRequestSchema,
  HealthListRequestSchema,
  ListModelsRequestSchema,
  ListTasksRequestSchema,
  ListTemplatesRequestSchema,
  ListWorkersRequestSchema,
  RenderTemplateRequestSchema,
  RerunTaskRequestSchema,
  RetryFromTaskRequestSchema,
  RetryTaskRequestSchema,
  RetryTasksRequestSchema,
  RunRetentionRequestSchema,
  RunTemplateRequestSchema,
  UpdateTemplateRequestSchema,
  WatchTaskRequestSchema,
  WatchTasksRequestSchema,
  WhoAmIRequestSchema,
} from "@promptline/proto";
import { InvalidFieldError } from "../tasks/errors.js";
import { kLog } from "./context.js";
import {
  parseCreateTemplate,
  parseDeleteTemplate,
  parseListTemplates,
  parseRenderTemplate,
  parseRunTemplate,
  parseTemplateId,
  parseUpdateTemplate,
} from "./template-validation.js";
import {
  parseBatchCreateTasks,
  parseCreateTask,
  parseListTasks,
  parseRerun,
  parseRunRetention,
  parseTaskId,
  parseTaskIds,
  parseTaskMetrics,
} from "./validation.js";

/** Throws {@link InvalidFieldError} naming the first field of the message that breaks a rule. */
export type RequestRule = (message: unknown) => void;

/** A rule for one request message type, typed by its schema. */
function rule<D extends DescMessage>(
  schema: D,
  check: (message: MessageShape<D>) => unknown,
): [string, RequestRule] {
  return [
    schema.typeName,
    (message) => {
      if (!isMessage(message, schema)) throw new Error(`not a ${schema.typeName}`);
      check(message);
    },
  ];
}

/** For requests with no fields, or none a value could make wrong: declared, so nothing is forgotten. */
const nothingToCheck = () => undefined;

function atMost(field: string, value: string, chars: number): void {
  if (value.length > chars)
    throw new InvalidFieldError(field, `must be at most ${chars} characters`);
}

function notNegative(field: string, value: number | bigint): void {
  if (value < 0) throw new InvalidFieldError(field, "must not be negative");
}

/**
 * The request rules of every RPC the API serves, one entry per request
 * message, enforced by {@link validationInterceptor} before any handler runs.
 * The rules themselves live in validation.ts (tasks) and
 * template-validation.ts (templates), where handlers also turn requests
 * into domain input; a test checks that every method of every service has
 * an entry here, so a new RPC cannot go unchecked.
 */
export const REQUEST_RULES: ReadonlyMap<string, RequestRule> = new Map([
  // TaskService. Request ids only matter to what is stored; the rules hold without one.
  rule(CreateTaskRequestSchema, (m) => parseCreateTask(m, "")),
  rule(BatchCreateTasksRequestSchema, (m) => parseBatchCreateTasks(m, "")),
  rule(GetTaskRequestSchema, (m) => parseTaskId(m.id)),
  rule(ListTasksRequestSchema, parseListTasks),
  rule(ListModelsRequestSchema, nothingToCheck),
  rule(CancelTaskRequestSchema, (m) => parseTaskId(m.id)),
  rule(RetryTaskRequestSchema, (m) => parseTaskId(m.id)),
  rule(DeleteTaskRequestSchema, (m) => parseTaskId(m.id)),
  rule(CancelTasksRequestSchema, (m) => parseTaskIds(m.ids)),
  rule(RetryTasksRequestSchema, (m) => parseTaskIds(m.ids)),
  rule(DeleteTasksRequestSchema, (m) => parseTaskIds(m.ids)),
  rule(GetQueueStatsRequestSchema, nothingToCheck),
  rule(ListWorkersRequestSchema, nothingToCheck),
  rule(GetTaskMetricsRequestSchema, parseTaskMetrics),
  rule(WatchTaskRequestSchema, (m) => {
    parseTaskId(m.id);
    notNegative("after_seq", m.afterSeq);
    notNegative("output_attempt", m.outputAttempt);
    notNegative("output_offset", m.outputOffset);
  }),
  // The same filters as ListTasks, by the same rules.
  rule(WatchTasksRequestSchema, (m) =>
    parseListTasks(
      create(ListTasksRequestSchema, {
        statuses: m.statuses,
        model: m.model,
        query: m.query,
        priority: m.priority,
        parentTaskId: m.parentTaskId,
        chainId: m.chainId,
      }),
    ),
  ),
  rule(GetTaskLineageRequestSchema, (m) => parseTaskId(m.id)),
  rule(CancelChainRequestSchema, (m) => parseTaskId(m.taskId, "task_id")),
  rule(RetryFromTaskRequestSchema, (m) => parseTaskId(m.id)),
  rule(RerunTaskRequestSchema, (m) => {
    parseTaskId(m.id);
    parseRerun(m, "");
  }),
  // TemplateService.
  rule(CreateTemplateRequestSchema, parseCreateTemplate),
  rule(GetTemplateRequestSchema, (m) => parseTemplateId(m.id)),
  rule(ListTemplatesRequestSchema, parseListTemplates),
  // The masked fields are checked against the stored template too, once it is read.
  rule(UpdateTemplateRequestSchema, parseUpdateTemplate),
  rule(DeleteTemplateRequestSchema, parseDeleteTemplate),
  rule(RenderTemplateRequestSchema, parseRenderTemplate),
  rule(RunTemplateRequestSchema, parseRunTemplate),
  // AdminService, AuthService, grpc.health.v1.Health.
  rule(RunRetentionRequestSchema, parseRunRetention),
  rule(WhoAmIRequestSchema, nothingToCheck),
  rule(HealthCheckRequestSchema, (m) => atMost("service", m.service, 200)),
  rule(HealthListRequestSchema, nothingToCheck),
]);

/**
 * Checks every request against {@link REQUEST_RULES} before its handler
 * runs: a bad one is refused as InvalidArgument naming the field (the error
 * interceptor maps InvalidFieldError). A method whose request has no rules
 * is refused outright (Internal): an RPC is served only once someone has
 * declared what it accepts.
 */
export function validationInterceptor(rules = REQUEST_RULES): Interceptor {
  return (next) => async (req) => {
    const check = rules.get(req.method.input.typeName);
    if (check === undefined) {
      // A server bug, not the caller's: logged here, as Connect logs nothing.
      req.contextValues
        .get(kLog)
        .error({ input: req.method.input.typeName }, "an RPC has no request rules");
      throw new ConnectError(
        `no request rules are declared for ${req.method.input.typeName}`,
        Code.Internal,
      );
    }
    if (!req.stream) {
      check(req.message);
      return next(req);
    }
    // A server-streaming call's one request arrives as a stream too: checked as it is read.
    return next({ ...req, message: checkEach(req.message, check) });
  };
}

async function* checkEach<T>(messages: AsyncIterable<T>, check: RequestRule): AsyncIterable<T> {
  for await (const message of messages) {
    check(message);
    yield message;
  }
}
