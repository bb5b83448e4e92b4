import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type BatchCreateTasksRequest,
  BatchCreateTasksRequestSchema,
  type CreateTaskRequest,
  CreateTaskRequestSchema,
  type GetTaskMetricsRequest,
  type ListTasksRequest,
  TaskSort as ProtoTaskSort,
  type RerunTaskRequest,
  type TaskParams,
} from "@promptline/proto";
import type { MetricsRange } from "../db/stats.js";
import type { TaskListCursor, TaskListFilter, TaskParamsJson, TaskSort } from "../db/tasks.js";
import type { RerunEdits } from "../tasks/chains.js";
import { InvalidFieldError } from "../tasks/errors.js";
import type { CreateBatchInput, CreateTaskInput, DependencyInput } from "../tasks/lifecycle.js";
import { RETENTION_DAYS } from "../tasks/retention.js";
import { TASK_PRIORITIES, TASK_STATUSES, type TaskStatus } from "../tasks/status.js";
import {
  parseReferences,
  REFERENCE_NAME,
  type TemplateRefs,
  UnknownReferenceError,
} from "../tasks/template.js";
import { priorityFromProto, statusFromProto } from "./convert.js";
import { requestHash } from "./request-hash.js";

/**
 * Request rules, declared once beside the handlers. Every failure names the
 * proto field, so a client can show it next to the right input.
 */
export const LIMITS = {
  refChars: 64,
  dependencies: 50,
  vars: 32,
  nameChars: 200,
  promptBytes: 256 * 1024,
  systemPromptBytes: 64 * 1024,
  modelChars: 200,
  stopSequences: 16,
  stopSequenceChars: 200,
  metadataEntries: 32,
  metadataKeyChars: 64,
  metadataValueChars: 1024,
  maxTokens: 1_000_000,
  pageSizeDefault: 50,
  pageSizeMax: 200,
  queryChars: 500,
  maxAttempts: 10,
  timeoutMs: { min: 1_000, max: 3_600_000, text: "1s and 1h" },
  queueTtlMs: { min: 1_000, max: 7 * 24 * 3_600_000, text: "1s and 7d" },
  runAtAheadMs: 30 * 24 * 3_600_000,
  idempotencyKeyChars: 200,
  batchTasks: 100,
  bulkTasks: 100,
  metadataFilterPairs: 8,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in any case: the shape of every id Promptline stores. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
const METADATA_KEY = /^[A-Za-z0-9_.-]+$/;
const utf8 = new TextEncoder();

function fail(field: string, reason: string): never {
  throw new InvalidFieldError(field, reason);
}

/** An id of a `kind` (task, template, chain): a UUID, lower-cased so lookups match what the database stores. */
export function parseUuid(value: string, field: string, kind: string): string {
  if (value === "") fail(field, "is required");
  if (!UUID.test(value)) fail(field, `must be a ${kind} id (UUID)`);
  return value.toLowerCase();
}

/** A task id (see {@link parseUuid}). */
export function parseTaskId(value: string, field = "id"): string {
  return parseUuid(value, field, "task");
}

/** 1–100 distinct task ids (CancelTasks, RetryTasks, DeleteTasks), each named by its index. */
export function parseTaskIds(ids: readonly string[]): string[] {
  if (ids.length === 0) fail("ids", "must not be empty");
  if (ids.length > LIMITS.bulkTasks) {
    fail("ids", `must have at most ${LIMITS.bulkTasks} ids (got ${ids.length})`);
  }
  const seen = new Map<string, number>();
  return ids.map((value, i) => {
    const id = parseTaskId(value, `ids[${i}]`);
    const first = seen.get(id);
    if (first !== undefined) fail(`ids[${i}]`, `repeats ids[${first}]`);
    seen.set(id, i);
    return id;
  });
}

/** Refuses a string over `limit` UTF-8 bytes, naming `field`. */
export function maxBytes(field: string, value: string, limit: number): void {
  if (value.length > limit || utf8.encode(value).length > limit) {
    fail(field, `must be at most ${limit} bytes`);
  }
}

function parseParams(params: TaskParams | undefined): TaskParamsJson {
  const out: TaskParamsJson = {};
  if (params === undefined) return out;
  const { temperature, topP, maxTokens, seed, stop } = params;
  if (temperature !== undefined) {
    if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2) {
      fail("params.temperature", "must be between 0 and 2");
    }
    out.temperature = temperature;
  }
  if (topP !== undefined) {
    if (!Number.isFinite(topP) || topP <= 0 || topP > 1) {
      fail("params.top_p", "must be greater than 0 and at most 1");
    }
    out.top_p = topP;
  }
  if (maxTokens !== undefined) {
    if (maxTokens < 1 || maxTokens > LIMITS.maxTokens) {
      fail("params.max_tokens", `must be from 1 to ${LIMITS.maxTokens}`);
    }
    out.max_tokens = maxTokens;
  }
  if (seed !== undefined) {
    if (seed > BigInt(Number.MAX_SAFE_INTEGER) || seed < BigInt(Number.MIN_SAFE_INTEGER)) {
      fail("params.seed", "must be within ±9007199254740991");
    }
    out.seed = Number(seed);
  }
  if (stop.length > 0) {
    if (stop.length > LIMITS.stopSequences) {
      fail("params.stop", `must have at most ${LIMITS.stopSequences} sequences`);
    }
    stop.forEach((s, i) => {
      if (s === "") fail(`params.stop[${i}]`, "must not be empty");
      if (s.length > LIMITS.stopSequenceChars) {
        fail(`params.stop[${i}]`, `must be at most ${LIMITS.stopSequenceChars} characters`);
      }
    });
    out.stop = [...stop];
  }
  return out;
}

function parseMetadata(metadata: Record<string, string>): Record<string, string> {
  const entries = Object.entries(metadata);
  if (entries.length > LIMITS.metadataEntries) {
    fail("metadata", `must have at most ${LIMITS.metadataEntries} entries`);
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > LIMITS.metadataKeyChars || !METADATA_KEY.test(key)) {
      fail(
        "metadata",
        `key "${key.slice(0, LIMITS.metadataKeyChars)}" must be 1-${LIMITS.metadataKeyChars} letters, digits, '_', '.' or '-'`,
      );
    }
    if (value.length > LIMITS.metadataValueChars) {
      fail(`metadata.${key}`, `must be at most ${LIMITS.metadataValueChars} characters`);
    }
  }
  return { ...metadata };
}

/** Whole milliseconds of a Duration within [min, max]; undefined when unset. */
function parseDurationMs(
  field: string,
  value: Duration | undefined,
  range: { min: number; max: number; text: string },
): number | undefined {
  if (value === undefined) return undefined;
  const { seconds, nanos } = value;
  const signsDisagree = (seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0);
  if (!Number.isInteger(nanos) || Math.abs(nanos) > 999_999_999 || signsDisagree) {
    fail(field, "is not a valid duration");
  }
  const ms = Number(seconds) * 1000 + nanos / 1e6;
  if (!(ms >= range.min && ms <= range.max)) fail(field, `must be between ${range.text}`);
  return Math.round(ms);
}

// 0001-01-01T00:00:00Z, the earliest time a Timestamp may hold.
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n;

/** A time in the past means now; more than 30 days ahead is refused. */
function parseRunAt(value: Timestamp | undefined, now: number): Date | undefined {
  if (value === undefined) return undefined;
  const { seconds, nanos } = value;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    fail("run_at", "is not a valid timestamp");
  }
  if (seconds < MIN_TIMESTAMP_SECONDS) return new Date(now);
  const ms = Number(seconds) * 1000 + Math.floor(nanos / 1e6);
  if (ms > now + LIMITS.runAtAheadMs) fail("run_at", "must be at most 30 days ahead");
  return new Date(Math.max(ms, now));
}

function parseIdempotencyKey(key: string): string | undefined {
  if (key.length > LIMITS.idempotencyKeyChars) {
    fail("idempotency_key", `must be at most ${LIMITS.idempotencyKeyChars} characters`);
  }
  return key === "" ? undefined : key;
}

export function parseCreateTask(req: CreateTaskRequest, requestId: string): CreateTaskInput {
  if (req.name.length > LIMITS.nameChars) {
    fail("name", `must be at most ${LIMITS.nameChars} characters`);
  }
  if (req.prompt.trim() === "") fail("prompt", "must not be empty");
  maxBytes("prompt", req.prompt, LIMITS.promptBytes);
  maxBytes("system_prompt", req.systemPrompt, LIMITS.systemPromptBytes);
  const model = req.model.trim();
  if (model === "") fail("model", "is required");
  if (model.length > LIMITS.modelChars) {
    fail("model", `must be at most ${LIMITS.modelChars} characters`);
  }
  const priority = priorityFromProto(req.priority);
  if (priority === undefined) fail("priority", `unknown value ${req.priority}`);
  if (req.maxAttempts < 0 || req.maxAttempts > LIMITS.maxAttempts) {
    fail("max_attempts", `must be from 1 to ${LIMITS.maxAttempts} (0 means the default)`);
  }
  const idempotencyKey = parseIdempotencyKey(req.idempotencyKey);
  const parentTaskId =
    req.parentTaskId === undefined ? undefined : parseTaskId(req.parentTaskId, "parent_task_id");
  if (parentTaskId !== undefined && req.parentRef !== "") {
    fail("parent_ref", "give parent_task_id or parent_ref, not both");
  }
  const dependsOn = parseDependencies(req);
  const vars = parseVars(req.vars);
  checkReferences(req, {
    parent: parentTaskId !== undefined || req.parentRef !== "",
    dependsOn,
    vars,
  });
  return {
    name: req.name.trim(),
    prompt: req.prompt,
    systemPrompt: req.systemPrompt,
    model,
    params: parseParams(req.params),
    priority,
    parentTaskId,
    metadata: parseMetadata(req.metadata),
    requestId,
    dependsOn,
    vars,
    ref: parseRef("ref", req.ref),
    parentRef: parseRef("parent_ref", req.parentRef),
    maxAttempts: req.maxAttempts === 0 ? undefined : req.maxAttempts,
    timeoutMs: parseDurationMs("timeout", req.timeout, LIMITS.timeoutMs),
    queueTtlMs: parseDurationMs("queue_ttl", req.queueTtl, LIMITS.queueTtlMs),
    runAt: parseRunAt(req.runAt, Date.now()),
    // Hashed last: proto JSON refuses some malformed values the checks above catch.
    idempotency:
      idempotencyKey === undefined
        ? undefined
        : { key: idempotencyKey, requestHash: requestHash(CreateTaskRequestSchema, req) },
  };
}

function parseRef(field: string, ref: string): string | undefined {
  if (ref === "") return undefined;
  if (!REFERENCE_NAME.test(ref) || ref.length > LIMITS.refChars) {
    fail(
      field,
      `must be 1-${LIMITS.refChars} letters, digits or '_', starting with a letter or '_'`,
    );
  }
  return ref;
}

function parseDependencies(req: CreateTaskRequest): DependencyInput[] {
  if (req.dependsOn.length > LIMITS.dependencies) {
    fail("depends_on", `must have at most ${LIMITS.dependencies} tasks`);
  }
  const names = new Set<string>();
  return req.dependsOn.map((dep, i) => {
    const field = `depends_on[${i}]`;
    const name = dep.name === "" ? undefined : dep.name;
    if (name !== undefined) {
      if (!REFERENCE_NAME.test(name) || name.length > LIMITS.refChars) {
        fail(`${field}.name`, "must be letters, digits or '_', starting with a letter or '_'");
      }
      if (names.has(name)) fail(`${field}.name`, `repeats the name ${name}`);
      names.add(name);
    }
    switch (dep.target.case) {
      case "taskId":
        return { taskId: parseTaskId(dep.target.value, `${field}.task_id`), name };
      case "ref":
        return { ref: parseRef(`${field}.ref`, dep.target.value), name };
      default:
        return fail(field, "needs a task_id or a ref");
    }
  });
}

function parseVars(vars: Record<string, string>): Record<string, string> {
  const entries = Object.entries(vars);
  if (entries.length > LIMITS.vars) fail("vars", `must have at most ${LIMITS.vars} entries`);
  for (const [name, value] of entries) {
    if (!REFERENCE_NAME.test(name))
      fail("vars", `name "${name.slice(0, 64)}" must be letters, digits or '_'`);
    maxBytes(`vars.${name}`, value, LIMITS.promptBytes);
  }
  return { ...vars };
}

/** Every {{reference}} in the prompts must name something the task will have. */
function checkReferences(
  req: CreateTaskRequest,
  has: { parent: boolean; dependsOn: DependencyInput[]; vars: Record<string, string> },
): void {
  for (const field of ["prompt", "system_prompt"] as const) {
    const text = field === "prompt" ? req.prompt : req.systemPrompt;
    let refs: TemplateRefs;
    try {
      refs = parseReferences(text);
    } catch (error) {
      if (error instanceof UnknownReferenceError) fail(field, error.message);
      throw error;
    }
    if (refs.parent && !has.parent)
      fail(field, "uses {{parent.output}} but the task has no parent");
    const depNames = new Set(has.dependsOn.flatMap((d) => d.name ?? []));
    for (const dep of refs.deps) {
      if (!depNames.has(dep))
        fail(field, `uses {{deps.${dep}.output}} but no dependency is named ${dep}`);
    }
    for (const name of refs.vars) {
      if (!(name in has.vars)) fail(field, `uses {{vars.${name}}} but vars has no ${name}`);
    }
  }
}

/**
 * 1–100 tasks, each checked like CreateTask with errors naming the item
 * (`tasks[3].prompt: …`). A keyed batch is one idempotent request: its items
 * may not carry keys of their own.
 */
export function parseBatchCreateTasks(
  req: BatchCreateTasksRequest,
  requestId: string,
): CreateBatchInput {
  if (req.tasks.length === 0) fail("tasks", "must not be empty");
  if (req.tasks.length > LIMITS.batchTasks) {
    fail("tasks", `must have at most ${LIMITS.batchTasks} tasks (got ${req.tasks.length})`);
  }
  const batchKey = parseIdempotencyKey(req.idempotencyKey);
  const keyIndex = new Map<string, number>();
  const tasks = req.tasks.map((item, i) => {
    let task: CreateTaskInput;
    try {
      task = parseCreateTask(item, requestId);
    } catch (error) {
      if (error instanceof InvalidFieldError) fail(`tasks[${i}].${error.field}`, error.reason);
      throw error;
    }
    const key = task.idempotency?.key;
    if (key !== undefined) {
      if (batchKey !== undefined) {
        fail(`tasks[${i}].idempotency_key`, "must be empty when the batch has an idempotency_key");
      }
      const first = keyIndex.get(key);
      if (first !== undefined) fail(`tasks[${i}].idempotency_key`, `repeats tasks[${first}]'s key`);
      keyIndex.set(key, i);
    }
    return task;
  });
  checkBatchRefs(tasks);
  return {
    tasks,
    idempotency:
      batchKey === undefined
        ? undefined
        : { key: batchKey, requestHash: requestHash(BatchCreateTasksRequestSchema, req) },
  };
}

/** Refs name tasks of the same batch; every one used must exist, and they may not form a cycle. */
function checkBatchRefs(tasks: readonly CreateTaskInput[]): void {
  const byRef = new Map<string, number>();
  tasks.forEach((task, i) => {
    if (task.ref === undefined) return;
    const first = byRef.get(task.ref);
    if (first !== undefined) fail(`tasks[${i}].ref`, `repeats tasks[${first}]'s ref ${task.ref}`);
    byRef.set(task.ref, i);
  });
  const upstream = tasks.map((task, i) => {
    const refs: Array<[string, string]> = [];
    if (task.parentRef !== undefined) refs.push([task.parentRef, `tasks[${i}].parent_ref`]);
    task.dependsOn.forEach((d, j) => {
      if (d.ref !== undefined) refs.push([d.ref, `tasks[${i}].depends_on[${j}].ref`]);
    });
    return refs.map(([ref, field]) => {
      const index = byRef.get(ref);
      if (index === undefined) fail(field, `no task in this batch has ref ${ref}`);
      if (index === i) fail(field, "a task cannot wait for itself");
      return index;
    });
  });
  // Depth-first search for a cycle among the batch's own references.
  const state = tasks.map(() => 0); // 0 new, 1 on the path, 2 done
  const visit = (i: number): void => {
    state[i] = 1;
    for (const j of upstream[i] ?? []) {
      if (state[j] === 1) fail(`tasks[${i}].depends_on`, `forms a cycle through tasks[${j}]`);
      if (state[j] === 0) visit(j);
    }
    state[i] = 2;
  };
  tasks.forEach((_, i) => {
    if (state[i] === 0) visit(i);
  });
}

const PAGE_TOKEN_V1 = "t1:";
const PAGE_TOKEN_V2 = "t2:";

const SORTS: Record<TaskSort, true> = { newest: true, oldest: true, priority: true, status: true };

/** Opaque to clients: the sort and where the page ended, versioned so the format can change. */
export function encodePageToken(sort: TaskSort, cursor: TaskListCursor): string {
  return Buffer.from(`${PAGE_TOKEN_V2}${sort}:${cursor.key}:${cursor.id}`).toString("base64url");
}

function decodePageToken(token: string, sort: TaskSort): TaskListCursor {
  const notOurs = "is not a token from a previous page";
  const decoded = Buffer.from(token, "base64url").toString();
  // Version 1 tokens came from the only order there was: newest first.
  const [tokenSort, key, id] = decoded.startsWith(PAGE_TOKEN_V1)
    ? ["newest", "", decoded.slice(PAGE_TOKEN_V1.length)]
    : decoded.startsWith(PAGE_TOKEN_V2)
      ? decoded.slice(PAGE_TOKEN_V2.length).split(":")
      : [];
  if (tokenSort === undefined || key === undefined || id === undefined || !UUID.test(id)) {
    fail("page_token", notOurs);
  }
  if (!Object.hasOwn(SORTS, tokenSort)) fail("page_token", notOurs);
  if (tokenSort !== sort) fail("page_token", `was made for another sort order (${tokenSort})`);
  const keys: readonly string[] =
    sort === "priority" ? TASK_PRIORITIES : sort === "status" ? TASK_STATUSES : [""];
  if (!keys.includes(key)) fail("page_token", notOurs);
  return { key, id: id.toLowerCase() };
}

/** ListTasks' metadata pairs, each shaped like a task's own; undefined when none. */
function parseMetadataFilter(pairs: Record<string, string>): Record<string, string> | undefined {
  const entries = Object.entries(pairs);
  if (entries.length === 0) return undefined;
  if (entries.length > LIMITS.metadataFilterPairs) {
    fail("metadata", `must have at most ${LIMITS.metadataFilterPairs} pairs`);
  }
  return parseMetadata(pairs);
}

function sortFromProto(sort: ProtoTaskSort): TaskSort | undefined {
  switch (sort) {
    case ProtoTaskSort.UNSPECIFIED:
    case ProtoTaskSort.NEWEST_FIRST:
      return "newest";
    case ProtoTaskSort.OLDEST_FIRST:
      return "oldest";
    case ProtoTaskSort.PRIORITY:
      return "priority";
    case ProtoTaskSort.STATUS:
      return "status";
    default:
      return undefined;
  }
}

function parseTime(field: string, value: Timestamp | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const { seconds, nanos } = value;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    fail(field, "is not a valid timestamp");
  }
  const date = new Date(Number(seconds) * 1000 + Math.floor(nanos / 1e6));
  if (Number.isNaN(date.getTime())) fail(field, "is out of range");
  return date;
}

/** ListTasksRequest.chain_id: a chain's id, a UUID like a task's. */
function parseChainId(value: string): string {
  if (!isUuid(value)) fail("chain_id", "must be a chain id (UUID)");
  return value.toLowerCase();
}

export function parseListTasks(req: ListTasksRequest): TaskListFilter {
  if (req.pageSize < 0 || req.pageSize > LIMITS.pageSizeMax) {
    fail(
      "page_size",
      `must be from 1 to ${LIMITS.pageSizeMax} (0 means ${LIMITS.pageSizeDefault})`,
    );
  }
  const statuses: TaskStatus[] = req.statuses.map((s, i) => {
    const status = statusFromProto(s);
    if (status === undefined) fail(`statuses[${i}]`, `unknown value ${s}`);
    return status;
  });
  const query = req.query.trim();
  if (query.length > LIMITS.queryChars) {
    fail("query", `must be at most ${LIMITS.queryChars} characters`);
  }
  // No stored task has a longer model, so a longer one only costs a lookup.
  if (req.model.length > LIMITS.modelChars) {
    fail("model", `must be at most ${LIMITS.modelChars} characters`);
  }
  let priority: TaskListFilter["priority"];
  if (req.priority !== 0) {
    priority = priorityFromProto(req.priority);
    if (priority === undefined) fail("priority", `unknown value ${req.priority}`);
  }
  const metadata = parseMetadataFilter(req.metadata);
  const sort = sortFromProto(req.sort);
  if (sort === undefined) fail("sort", `unknown value ${req.sort}`);
  const createdAfter = parseTime("created_after", req.createdAfter);
  const createdBefore = parseTime("created_before", req.createdBefore);
  if (createdAfter !== undefined && createdBefore !== undefined && createdAfter >= createdBefore) {
    fail("created_before", "must be later than created_after");
  }
  return {
    statuses,
    model: req.model === "" ? undefined : req.model,
    priority,
    parentTaskId:
      req.parentTaskId === undefined ? undefined : parseTaskId(req.parentTaskId, "parent_task_id"),
    chainId: req.chainId === undefined ? undefined : parseChainId(req.chainId),
    query: query === "" ? undefined : query,
    metadata,
    createdAfter,
    createdBefore,
    sort,
    after: req.pageToken === "" ? undefined : decodePageToken(req.pageToken, sort),
    limit: req.pageSize === 0 ? LIMITS.pageSizeDefault : req.pageSize,
  };
}

/** RunRetention's one field, as a RunRetentionRequest carries it. */
export function parseRunRetention(req: { olderThanDays: number }): number {
  const { min, max } = RETENTION_DAYS;
  if (req.olderThanDays < min || req.olderThanDays > max) {
    fail("older_than_days", `must be from ${min} to ${max}`);
  }
  return req.olderThanDays;
}

/** RerunTask's edits: each one checked like CreateTask's field of the same name. */
export function parseRerun(req: RerunTaskRequest, requestId: string): RerunEdits {
  if (req.prompt !== undefined) {
    if (req.prompt.trim() === "") fail("prompt", "must not be empty");
    maxBytes("prompt", req.prompt, LIMITS.promptBytes);
    try {
      parseReferences(req.prompt);
    } catch (error) {
      if (error instanceof UnknownReferenceError) fail("prompt", error.message);
      throw error;
    }
  }
  if (req.systemPrompt !== undefined)
    maxBytes("system_prompt", req.systemPrompt, LIMITS.systemPromptBytes);
  const model = req.model?.trim();
  if (model !== undefined && (model === "" || model.length > LIMITS.modelChars)) {
    fail("model", `must be 1-${LIMITS.modelChars} characters`);
  }
  return {
    prompt: req.prompt,
    model,
    systemPrompt: req.systemPrompt,
    params: req.params === undefined ? undefined : parseParams(req.params),
    requestId,
  };
}

/** GetTaskMetrics' range rules. */
const METRICS = {
  windowMs: { min: 60_000, max: 7 * 24 * 3_600_000, text: "1m and 7d" },
  bucketMs: { min: 10_000, max: 7 * 24 * 3_600_000, text: "10s and 7d" },
  windowDefaultMs: 3_600_000,
  bucketsDefault: 60,
  bucketsMax: 1000,
} as const;

/**
 * GetTaskMetrics' window and bucket as whole seconds and a bucket count:
 * the window is rounded up to whole buckets, so the last bucket (the one
 * that holds now) is always complete in the answer's terms.
 */
export function parseTaskMetrics(req: GetTaskMetricsRequest): MetricsRange {
  const windowMs =
    parseDurationMs("window", req.window, METRICS.windowMs) ?? METRICS.windowDefaultMs;
  const bucketMs =
    parseDurationMs("bucket", req.bucket, METRICS.bucketMs) ??
    Math.max(METRICS.bucketMs.min, windowMs / METRICS.bucketsDefault);
  if (bucketMs > windowMs) fail("bucket", "must not be longer than the window");
  const bucketSeconds = Math.round(bucketMs / 1000);
  const buckets = Math.ceil(windowMs / 1000 / bucketSeconds);
  if (buckets > METRICS.bucketsMax) {
    fail("bucket", `must split the window into at most ${METRICS.bucketsMax} buckets`);
  }
  return { bucketSeconds, buckets };
}
