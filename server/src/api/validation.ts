import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type BatchCreateTasksRequest,
  BatchCreateTasksRequestSchema,
  type CreateTaskRequest,
  CreateTaskRequestSchema,
  type ListTasksRequest,
  type TaskParams,
} from "@promptline/proto";
import type { TaskListFilter, TaskParamsJson } from "../db/tasks.js";
import { InvalidFieldError } from "../tasks/errors.js";
import type { CreateBatchInput, CreateTaskInput } from "../tasks/lifecycle.js";
import { RETENTION_DAYS } from "../tasks/retention.js";
import type { TaskStatus } from "../tasks/status.js";
import { priorityFromProto, statusFromProto } from "./convert.js";
import { requestHash } from "./request-hash.js";

/**
 * Request rules, declared once beside the handlers. Every failure names the
 * proto field, so a client can show it next to the right input.
 */
export const LIMITS = {
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
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const METADATA_KEY = /^[A-Za-z0-9_.-]+$/;
const utf8 = new TextEncoder();

function fail(field: string, reason: string): never {
  throw new InvalidFieldError(field, reason);
}

/** A task id: a UUID, lower-cased so lookups match what the database stores. */
export function parseTaskId(value: string, field = "id"): string {
  if (value === "") fail(field, "is required");
  if (!UUID.test(value)) fail(field, "must be a task id (UUID)");
  return value.toLowerCase();
}

function maxBytes(field: string, value: string, limit: number): void {
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
  return {
    name: req.name.trim(),
    prompt: req.prompt,
    systemPrompt: req.systemPrompt,
    model,
    params: parseParams(req.params),
    priority,
    parentTaskId:
      req.parentTaskId === undefined ? undefined : parseTaskId(req.parentTaskId, "parent_task_id"),
    metadata: parseMetadata(req.metadata),
    requestId,
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
  return {
    tasks,
    idempotency:
      batchKey === undefined
        ? undefined
        : { key: batchKey, requestHash: requestHash(BatchCreateTasksRequestSchema, req) },
  };
}

const PAGE_TOKEN_PREFIX = "t1:";

/** Opaque to clients: the last id of the page, versioned so the format can change. */
export function encodePageToken(lastId: string): string {
  return Buffer.from(PAGE_TOKEN_PREFIX + lastId).toString("base64url");
}

function decodePageToken(token: string): string {
  const decoded = Buffer.from(token, "base64url").toString();
  const id = decoded.startsWith(PAGE_TOKEN_PREFIX) ? decoded.slice(PAGE_TOKEN_PREFIX.length) : "";
  if (!UUID.test(id)) fail("page_token", "is not a token from a previous page");
  return id.toLowerCase();
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
  let priority: TaskListFilter["priority"];
  if (req.priority !== 0) {
    priority = priorityFromProto(req.priority);
    if (priority === undefined) fail("priority", `unknown value ${req.priority}`);
  }
  return {
    statuses,
    model: req.model === "" ? undefined : req.model,
    priority,
    parentTaskId:
      req.parentTaskId === undefined ? undefined : parseTaskId(req.parentTaskId, "parent_task_id"),
    query: query === "" ? undefined : query,
    beforeId: req.pageToken === "" ? undefined : decodePageToken(req.pageToken),
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
