import { type DescMessage, isMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  AdminService,
  BatchCreateTasksRequestSchema,
  CancelChainRequestSchema,
  CancelTaskRequestSchema,
  type CreateTaskRequest,
  CreateTaskRequestSchema,
  DeleteTaskRequestSchema,
  DeleteTemplateRequestSchema,
  GetTaskLineageRequestSchema,
  GetTaskRequestSchema,
  RerunTaskRequestSchema,
  RetryFromTaskRequestSchema,
  RetryTaskRequestSchema,
  TaskService,
  TemplateService,
  UpdateTemplateRequestSchema,
  WatchTaskRequestSchema,
} from "@promptline/proto";
import type { Kysely } from "kysely";
import { isUuid } from "../api/validation.js";
import { tasksOwnedByOthers } from "../db/auth.js";
import type { DB } from "../db/schema.js";
import { findTemplateOwner } from "../db/templates.js";
import { InvalidFieldError, TaskNotFoundError } from "../tasks/errors.js";
import type { Principal } from "./principal.js";

/**
 * A task a request names: the one it acts on (`field` unset; another
 * user's is NotFound, exactly like a missing one), or one a create refers
 * to as parent or dependency (`field` names it; InvalidArgument, again
 * worded like a missing task).
 */
interface TaskRef {
  id: string;
  field?: string;
}

/**
 * Who may call an RPC. `anyone`: every authenticated caller (lists are
 * limited to a member's own tasks where they are read, see
 * `visibleOwner`). `admin`: admins only. `owner`: a member only on their
 * own tasks, named by `refs`. `eachOwn`: a bulk action whose results are
 * per task; every caller may make it, and the handler scopes it with
 * {@link hiddenTasks} so another user's task is that item's NotFound while
 * the member's own tasks are acted on. `templateCreator`: a member only on a
 * template they created, named by `template` (templates are shared, so
 * another's is PermissionDenied, not NotFound).
 */
type Rule =
  | { kind: "anyone" }
  | { kind: "admin" }
  | { kind: "eachOwn" }
  | { kind: "owner"; refs: (message: unknown) => TaskRef[] }
  | { kind: "templateCreator"; template: (message: unknown) => string | undefined };

const anyone: Rule = { kind: "anyone" };
const admin: Rule = { kind: "admin" };
const eachOwn: Rule = { kind: "eachOwn" };

function owner<Desc extends DescMessage>(
  schema: Desc,
  refs: (message: MessageShape<Desc>) => TaskRef[],
): Rule {
  return { kind: "owner", refs: (message) => (isMessage(message, schema) ? refs(message) : []) };
}

function templateCreator<Desc extends DescMessage>(
  schema: Desc,
  template: (message: MessageShape<Desc>) => string | undefined,
): Rule {
  return {
    kind: "templateCreator",
    template: (message) => (isMessage(message, schema) ? template(message) : undefined),
  };
}

function createRefs(req: CreateTaskRequest, prefix: string): TaskRef[] {
  return [
    ...(req.parentTaskId === undefined
      ? []
      : [{ id: req.parentTaskId, field: `${prefix}parent_task_id` }]),
    ...req.dependsOn.flatMap((d, i) =>
      d.target.case === "taskId"
        ? [{ id: d.target.value, field: `${prefix}depends_on[${i}].task_id` }]
        : [],
    ),
  ];
}

/**
 * Every TaskService RPC and its rule, in one place. An RPC not listed is
 * for admins only, so a new one is closed to members until someone decides
 * who may call it (a test lists the unlisted ones).
 */
const TASK_RULES = {
  createTask: owner(CreateTaskRequestSchema, (m) => createRefs(m, "")),
  batchCreateTasks: owner(BatchCreateTasksRequestSchema, (m) =>
    m.tasks.flatMap((t, i) => createRefs(t, `tasks[${i}].`)),
  ),
  getTask: owner(GetTaskRequestSchema, (m) => [{ id: m.id }]),
  listTasks: anyone,
  listModels: anyone,
  cancelTask: owner(CancelTaskRequestSchema, (m) => [{ id: m.id }]),
  retryTask: owner(RetryTaskRequestSchema, (m) => [{ id: m.id }]),
  deleteTask: owner(DeleteTaskRequestSchema, (m) => [{ id: m.id }]),
  cancelTasks: eachOwn,
  retryTasks: eachOwn,
  deleteTasks: eachOwn,
  // Counts and workers across every user's tasks.
  getQueueStats: admin,
  listWorkers: admin,
  getTaskMetrics: admin,
  watchTask: owner(WatchTaskRequestSchema, (m) => [{ id: m.id }]),
  watchTasks: anyone,
  getTaskLineage: owner(GetTaskLineageRequestSchema, (m) => [{ id: m.id }]),
  cancelChain: owner(CancelChainRequestSchema, (m) => [{ id: m.taskId }]),
  retryFromTask: owner(RetryFromTaskRequestSchema, (m) => [{ id: m.id }]),
  rerunTask: owner(RerunTaskRequestSchema, (m) => [{ id: m.id }]),
} satisfies Partial<Record<keyof typeof TaskService.method, Rule>>;

const taskRules = new Map<string, Rule>(Object.entries(TASK_RULES));

/**
 * Every TemplateService RPC and its rule. Templates are a team's shared
 * prompts: everyone reads, previews and runs them (a run's task is the
 * runner's own), and each may be changed only by its creator or an admin.
 * Unlisted RPCs are for admins only, as with TASK_RULES.
 */
const TEMPLATE_RULES = {
  createTemplate: anyone,
  getTemplate: anyone,
  listTemplates: anyone,
  renderTemplate: anyone,
  runTemplate: anyone,
  updateTemplate: templateCreator(UpdateTemplateRequestSchema, (m) => m.template?.id),
  deleteTemplate: templateCreator(DeleteTemplateRequestSchema, (m) => m.id),
} satisfies Partial<Record<keyof typeof TemplateService.method, Rule>>;

const templateRules = new Map<string, Rule>(Object.entries(TEMPLATE_RULES));

/** The rule of one RPC (`method` is its local name, e.g. `getTask`). Services without tasks or templates (AuthService…) are open to any authenticated caller. */
export function ruleFor(service: string, method: string): Rule {
  // Unlisted TaskService and TemplateService RPCs fall to `admin`: closed until decided.
  if (service === AdminService.typeName) return admin;
  if (service === TaskService.typeName) return taskRules.get(method) ?? admin;
  if (service === TemplateService.typeName) return templateRules.get(method) ?? admin;
  return anyone;
}

/** A caller asked for an RPC their role does not allow. */
export class PermissionError extends Error {
  override readonly name = "PermissionError";
}

/**
 * Enforces {@link ruleFor}: a member is refused admin RPCs and any task
 * that is not theirs. A chain has one owner, so even an admin cannot give a
 * new task another user's parent or dependencies (then a member's chain
 * operations never reach someone else's task). One indexed read, and only
 * when a request names stored tasks.
 */
export async function checkAccess(
  db: Kysely<DB>,
  principal: Principal,
  call: { service: string; method: string; rpc: string; message: unknown },
): Promise<void> {
  const rule = ruleFor(call.service, call.method);
  if (principal.role === "admin") {
    if (rule.kind !== "owner") return;
    const links = rule.refs(call.message).filter((ref) => ref.field !== undefined);
    const foreign = await firstForeign(db, links, principal.userId);
    if (foreign?.field === undefined) return;
    throw new InvalidFieldError(
      foreign.field,
      `task ${foreign.id} belongs to another user; a task's parent and dependencies must be its owner's own`,
    );
  }
  if (rule.kind === "anyone" || rule.kind === "eachOwn") return;
  if (rule.kind === "admin") {
    throw new PermissionError(
      `${call.rpc} is for admins; ${principal.userName} is a ${principal.role}`,
    );
  }
  if (rule.kind === "templateCreator") {
    await checkTemplateCreator(db, principal, call.rpc, rule.template(call.message));
    return;
  }
  const denied = await firstForeign(db, rule.refs(call.message), principal.userId);
  if (denied === undefined) return;
  if (denied.field === undefined) throw new TaskNotFoundError(denied.id);
  throw new InvalidFieldError(denied.field, `task ${denied.id} does not exist`);
}

/**
 * A member may change only a template they created. A malformed or missing
 * template is left for the handler to refuse (InvalidArgument, NotFound).
 * A template never changes owner, so checking before the handler runs is
 * as good as checking inside its transaction.
 */
async function checkTemplateCreator(
  db: Kysely<DB>,
  principal: Principal,
  rpc: string,
  templateId: string | undefined,
): Promise<void> {
  if (templateId === undefined || !isUuid(templateId)) return;
  const creator = await findTemplateOwner(db, templateId.toLowerCase());
  if (creator === undefined || creator.id === principal.userId) return;
  throw new PermissionError(
    `${rpc}: template ${templateId} was created by ${creator.name}; only its creator or an admin may change or delete it`,
  );
}

/**
 * The tasks among `ids` an `eachOwn` action must treat as missing: another
 * user's, for a member (`ownerId` from `visibleOwner`); none for an admin.
 * A task never changes owner, so reading this before acting is as good as
 * reading it inside each action.
 */
export async function hiddenTasks(
  db: Kysely<DB>,
  ownerId: string | undefined,
  ids: readonly string[],
): Promise<ReadonlySet<string>> {
  if (ownerId === undefined) return new Set();
  return tasksOwnedByOthers(db, ids, ownerId);
}

/** The first of `refs` that is a stored task of someone other than `userId`. */
async function firstForeign(
  db: Kysely<DB>,
  refs: readonly TaskRef[],
  userId: string,
): Promise<TaskRef | undefined> {
  // A malformed id is left for the handler to refuse as InvalidArgument.
  const wellFormed = refs.filter((ref) => isUuid(ref.id));
  if (wellFormed.length === 0) return undefined;
  const ids = [...new Set(wellFormed.map((r) => r.id.toLowerCase()))];
  const others = await tasksOwnedByOthers(db, ids, userId);
  return wellFormed.find((r) => others.has(r.id.toLowerCase()));
}
