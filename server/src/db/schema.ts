import type {
  ColumnType,
  Generated,
  GeneratedAlways,
  Insertable,
  Selectable,
  Updateable,
} from "kysely";
import type { TaskPriority, TaskStatus } from "../tasks/status.js";

/**
 * The Kysely view of migration 0001_initial, written by hand. What comes back
 * is what both drivers return with the parsers in `connection.ts`:
 * timestamptz → Date, int8 (counts, sums, identity ids) → number,
 * numeric (money) → string, jsonb → parsed JSON. jsonb is written as a JSON
 * string (`JSON.stringify`), because pg would turn a JS array into a Postgres
 * array literal.
 */
export interface DB {
  tasks: TasksTable;
  task_search: TaskSearchTable;
  task_attempts: TaskAttemptsTable;
  task_events: TaskEventsTable;
  task_chains: TaskChainsTable;
  task_chain_edges: TaskChainEdgesTable;
  templates: TemplatesTable;
  task_stats: TaskStatsView;
  users: UsersTable;
  api_keys: ApiKeysTable;
}

export type { TaskPriority, TaskStatus };
export type AttemptOutcome = "running" | "succeeded" | "failed" | "cancelled";
export type ChainEdgeKind = "derived" | "depends_on";
export type TaskEventType = "created" | "status";

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Jsonb<T> = ColumnType<T, string | undefined, string>;
/** A view column: readable, never written. */
type ReadOnly<T> = ColumnType<T, never, never>;

export interface TasksTable {
  /** UUIDv7 made by the app (ids sort by creation, which keyset pagination relies on). */
  id: string;
  name: Generated<string>;
  prompt: string;
  system_prompt: Generated<string>;
  model: string;
  params: Jsonb<JsonObject>;
  priority: Generated<TaskPriority>;
  /** Moves only along the lifecycle; the database refuses anything else (SQLSTATE PT001). */
  status: Generated<TaskStatus>;
  output: Generated<string>;
  error_code: string | null;
  error_message: string | null;
  error_http_status: number | null;
  /** Kept in step with the task's `derived` edge by triggers, both ways. */
  parent_task_id: string | null;
  /** Set by a trigger when a parent is set: a child joins its parent's chain. */
  chain_id: string | null;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  /** numeric(14,8), as a decimal string to keep every digit. */
  cost_usd: string | null;
  provider: string | null;
  response_model: string | null;
  request_id: string | null;
  metadata: Jsonb<JsonObject>;
  idempotency_key: string | null;
  request_hash: string | null;
  run_at: NullableTimestamp;
  timeout_ms: number | null;
  /**
   * The attempt number that began the current series (RetryTask starts a new
   * one). Attempts left = max_attempts - (attempts - series_start_attempt + 1).
   */
  series_start_attempt: Generated<number>;
  /** Values for `{{vars.<name>}}` in the prompt. */
  vars: Jsonb<Record<string, string>>;
  /** The prompt as sent when it had `{{references}}`, rendered at dispatch. */
  rendered_prompt: string | null;
  /** A queued task waiting longer than this fails with EXPIRED. */
  queue_ttl_ms: number | null;
  cancel_requested_at: NullableTimestamp;
  /** Who created it (0002_auth); the built-in local user when none was given. */
  owner_id: Generated<string>;
  /** The last `task_events.seq` of this task; triggers own it. */
  seq: GeneratedAlways<number>;
  created_at: DefaultedTimestamp;
  queued_at: NullableTimestamp;
  started_at: NullableTimestamp;
  completed_at: NullableTimestamp;
  updated_at: DefaultedTimestamp;
}

/**
 * The text-search vector of a task's name and prompt (0005_task_search),
 * written by a trigger when the task is inserted: kept off the `tasks` row so
 * status updates do not recompute and re-index it. Query it with
 * `search @@ websearch_to_tsquery('simple', …)`.
 */
export interface TaskSearchTable {
  task_id: string;
  search: string;
}

export interface TaskAttemptsTable {
  id: GeneratedAlways<number>;
  task_id: string;
  attempt: number;
  worker_id: string | null;
  started_at: DefaultedTimestamp;
  finished_at: NullableTimestamp;
  outcome: Generated<AttemptOutcome>;
  error_code: string | null;
  error_message: string | null;
  http_status: number | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
}

/** Written only by triggers, in the transaction of the change it records. */
export interface TaskEventsTable {
  task_id: string;
  seq: number;
  type: TaskEventType;
  from_status: TaskStatus | null;
  to_status: TaskStatus;
  at: DefaultedTimestamp;
  /** For a status event: `attempt`, and `error_code` / `error_message` when set on the task. */
  data: Jsonb<TaskEventData>;
}

export interface TaskEventData {
  [key: string]: JsonValue | undefined;
  attempt?: number;
  error_code?: string;
  error_message?: string;
}

export interface TaskChainsTable {
  id: Generated<string>;
  name: Generated<string>;
  created_at: DefaultedTimestamp;
}

export interface TaskChainEdgesTable {
  chain_id: string | null;
  parent_id: string;
  child_id: string;
  /** `derived` mirrors the child's `parent_task_id`; `depends_on` is a DAG wait. */
  kind: ChainEdgeKind;
  /** The dependency's name in `{{deps.<name>.output}}`. */
  name: string | null;
}

export interface TemplatesTable {
  id: Generated<string>;
  name: string;
  description: Generated<string>;
  prompt: string;
  system_prompt: Generated<string>;
  model: string;
  params: Jsonb<JsonObject>;
  variables: Jsonb<JsonValue[]>;
  /** Who created it, and with admins the only one who may change it (0003_template_owner). */
  owner_id: Generated<string>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

/** One row per (model, status). Latencies are null when no task in the group has one. */
export interface TaskStatsView {
  model: ReadOnly<string>;
  status: ReadOnly<TaskStatus>;
  count: ReadOnly<number>;
  avg_latency_ms: ReadOnly<number | null>;
  p50_latency_ms: ReadOnly<number | null>;
  p95_latency_ms: ReadOnly<number | null>;
  prompt_tokens: ReadOnly<number>;
  completion_tokens: ReadOnly<number>;
  total_tokens: ReadOnly<number>;
  /** numeric, as a decimal string. */
  cost_usd: ReadOnly<string>;
}

/**
 * A row of `task_lineage(root)`: an edge above the root (depth < 0, -1 is an
 * edge into the root) or below it (depth > 0, 1 is an edge out of the root).
 * Depth is the edge's shortest distance from the root; the walk stops 1,000
 * levels out, which also ends it on a cycle.
 */
export interface TaskLineageRow {
  parent_id: string;
  child_id: string;
  kind: ChainEdgeKind;
  name: string | null;
  depth: number;
}

/** A task as the application reads it. */
export type TaskRow = Selectable<TasksTable>;

/** The columns of a {@link TaskRow}: select and return these rather than `*`. */
export const TASK_COLUMNS = [
  "id",
  "name",
  "prompt",
  "system_prompt",
  "model",
  "params",
  "priority",
  "status",
  "output",
  "error_code",
  "error_message",
  "error_http_status",
  "parent_task_id",
  "chain_id",
  "attempts",
  "max_attempts",
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
  "latency_ms",
  "ttft_ms",
  "cost_usd",
  "provider",
  "response_model",
  "request_id",
  "metadata",
  "idempotency_key",
  "request_hash",
  "run_at",
  "timeout_ms",
  "series_start_attempt",
  "vars",
  "rendered_prompt",
  "queue_ttl_ms",
  "cancel_requested_at",
  "owner_id",
  "seq",
  "created_at",
  "queued_at",
  "started_at",
  "completed_at",
  "updated_at",
] as const satisfies readonly (keyof TaskRow)[];

// A column added to `tasks` must be added above too, or this fails to compile.
type UnlistedTaskColumn = Exclude<keyof TaskRow, (typeof TASK_COLUMNS)[number]>;
const everyTaskColumnListed: [UnlistedTaskColumn] extends [never] ? true : UnlistedTaskColumn =
  true;
void everyTaskColumnListed;
export type NewTaskRow = Insertable<TasksTable>;
export type TaskUpdate = Updateable<TasksTable>;
export type TaskAttemptRow = Selectable<TaskAttemptsTable>;
export type TaskEventRow = Selectable<TaskEventsTable>;
export type TaskChainRow = Selectable<TaskChainsTable>;
export type TaskChainEdgeRow = Selectable<TaskChainEdgesTable>;
export type TemplateRow = Selectable<TemplatesTable>;
export type NewTemplateRow = Insertable<TemplatesTable>;
export type TemplateUpdate = Updateable<TemplatesTable>;
export type TaskStatsRow = Selectable<TaskStatsView>;

export type UserRole = "admin" | "member";

/** 0002_auth: people and services that hold API keys. */
export interface UsersTable {
  id: Generated<string>;
  name: string;
  role: UserRole;
  created_at: DefaultedTimestamp;
}

/** An API key is stored only as its SHA-256; `prefix` is the part shown when listing. */
export interface ApiKeysTable {
  id: Generated<string>;
  user_id: string;
  name: Generated<string>;
  prefix: string;
  key_hash: string;
  created_at: DefaultedTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export type UserRow = Selectable<UsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
