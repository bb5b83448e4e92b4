import { isIP } from "node:net";
import { z } from "zod";
import { RETENTION_DAYS } from "./tasks/retention.js";

/** Which parts of Promptline a process runs. `all` is the default of `pnpm start`. */
export type ProcessRole = "all" | "api" | "worker";

const DEFAULT_NIM_BASE_URL = "https://integrate.api.nvidia.com/v1";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const url = (protocols: readonly string[], example: string) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL like ${example}` },
    );

const optionalUrl = (protocols: readonly string[], example: string) =>
  z.preprocess((v) => (v === "" ? undefined : v), url(protocols, example).optional());

const integer = (min: number, max: number, fallback: number) =>
  z.preprocess(
    (v) => (v === undefined || v === "" ? fallback : Number(v)),
    z
      .number({ message: `must be a whole number from ${min} to ${max}` })
      .int({ message: `must be a whole number from ${min} to ${max}` })
      .min(min, { message: `must be a whole number from ${min} to ${max}` })
      .max(max, { message: `must be a whole number from ${min} to ${max}` }),
  );

/** Unset or empty is undefined: the feature it sizes is off. */
const optionalInteger = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    (v) => (v === undefined || v === "" ? undefined : Number(v)),
    z.number({ message }).int({ message }).min(min, { message }).max(max, { message }).optional(),
  );
};

/** Requests one process may send a provider; unset means no limit. */
export interface ProviderLimits {
  maxConcurrency?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** The providers this configuration can turn on, so a limit for a misspelt one is caught. */
const LIMITED_PROVIDERS = ["nim", "simulator"];
const LIMIT_KEYS = {
  concurrency: "maxConcurrency",
  rpm: "requestsPerMinute",
  tpm: "tokensPerMinute",
} as const;

/** `nim:concurrency=8,rpm=600,tpm=200000;simulator:concurrency=64`; each bad part is one problem. */
const providerLimits = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const limits: Record<string, ProviderLimits> = {};
    for (const part of (value ?? "").split(";")) {
      const entry = part.trim();
      if (entry === "") continue;
      const problem = parseProviderLimits(entry, limits);
      if (problem === undefined) continue;
      const message = `${JSON.stringify(entry)}: ${problem}`;
      ctx.issues.push({ code: "custom", message, input: value });
    }
    return limits;
  });

/** Adds one `provider:key=value,…` entry to `limits`, or says what is wrong with it. */
function parseProviderLimits(
  entry: string,
  limits: Record<string, ProviderLimits>,
): string | undefined {
  const [head = "", list = ""] = splitOnce(entry, ":");
  const name = head.trim();
  if (!LIMITED_PROVIDERS.includes(name)) {
    return `unknown provider ${JSON.stringify(name)} (one of ${LIMITED_PROVIDERS.join(", ")})`;
  }
  if (Object.hasOwn(limits, name)) return `${name} is given twice`;
  const items = list.split(",").map((item) => item.trim());
  if (items.every((item) => item === "")) return `give limits, e.g. ${name}:concurrency=8`;
  const parsed: ProviderLimits = {};
  for (const item of items) {
    const [key = "", number = ""] = splitOnce(item, "=").map((piece) => piece.trim());
    if (!isLimitKey(key)) {
      return `unknown limit ${JSON.stringify(key)} (one of ${Object.keys(LIMIT_KEYS).join(", ")})`;
    }
    const field = LIMIT_KEYS[key];
    if (parsed[field] !== undefined) return `${key} is given twice`;
    const limit = Number(number);
    if (!/^\d+$/.test(number) || !Number.isSafeInteger(limit) || limit < 1) {
      return `${key} must be a whole number above 0`;
    }
    parsed[field] = limit;
  }
  limits[name] = parsed;
  return undefined;
}

function isLimitKey(key: string): key is keyof typeof LIMIT_KEYS {
  return Object.hasOwn(LIMIT_KEYS, key);
}

/** `[before, after]` the first `separator`, or `[text]` without one. */
function splitOnce(text: string, separator: string): string[] {
  const at = text.indexOf(separator);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + separator.length)];
}

/** OTEL_TRACES_SAMPLER values (the OTel spec's names); the ratio ones read OTEL_TRACES_SAMPLER_ARG. */
const samplers = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type TraceSampler = (typeof samplers)[number];

const otlpProtocol = z
  .enum(["http/protobuf", "http/json"], {
    message: "must be http/protobuf or http/json (grpc is not supported)",
  })
  .optional();

/** The OTel spec's `key1=value1,key2=value2` (values percent-encoded), as OTLP headers and resource attributes use it. */
const keyValueList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const pairs: Record<string, string> = {};
    for (const part of (value ?? "").split(",")) {
      if (part.trim() === "") continue;
      const [key = "", raw] = splitOnce(part, "=").map((piece) => piece.trim());
      let decoded: string | undefined;
      try {
        decoded = raw === undefined ? undefined : decodeURIComponent(raw);
      } catch {
        decoded = undefined;
      }
      if (key === "" || decoded === undefined) {
        const message = `${JSON.stringify(part.trim())}: must be key=value (comma-separated, values percent-encoded)`;
        ctx.issues.push({ code: "custom", message, input: value });
        continue;
      }
      pairs[key] = decoded;
    }
    return pairs;
  });

const envSchema = z.object({
  PROMPTLINE_ROLE: z
    .enum(["all", "api", "worker"], { message: "must be one of all, api, worker" })
    .default("all"),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  PORT: integer(0, 65535, 8080),
  DATABASE_URL: optionalUrl(["postgres:", "postgresql:"], "postgres://user@host:5432/db"),
  PGLITE_DIR: z.string().trim().min(1).default(".data/pglite"),
  REDIS_URL: optionalUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  QUEUE_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: "must be 1-64 letters, digits, '_', '.' or '-'" })
    .default("promptline"),
  NVIDIA_API_KEY: optionalString,
  LLM_BASE_URL: optionalUrl(["http:", "https:"], DEFAULT_NIM_BASE_URL),
  SIMULATOR: z
    .enum(["auto", "on", "off"], { message: "must be one of auto, on, off" })
    .default("auto"),
  SIMULATOR_URL: optionalUrl(["http:", "https:"], "http://127.0.0.1:4010/v1"),
  WORKER_CONCURRENCY: integer(1, 1000, 16),
  TASK_TIMEOUT_MS: integer(1_000, 3_600_000, 600_000),
  WORKER_LOCK_MS: integer(1_000, 600_000, 30_000),
  SHUTDOWN_GRACE_MS: integer(0, 3_600_000, 30_000),
  RETRY_BASE_MS: integer(1, 3_600_000, 1_000),
  RETRY_MAX_MS: integer(1, 3_600_000, 60_000),
  RECOVERY_INTERVAL_MS: integer(100, 3_600_000, 5_000),
  MAX_REQUEST_TIMEOUT_MS: integer(100, 3_600_000, 60_000),
  METRICS_PORT: optionalInteger(0, 65535),
  RETENTION_DAYS: optionalInteger(RETENTION_DAYS.min, RETENTION_DAYS.max),
  PROVIDER_LIMITS: providerLimits,
  LOG_LEVEL: z
    .enum(logLevels, { message: `must be one of ${logLevels.join(", ")}` })
    .default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"], { message: "must be json or pretty" }).optional(),
  WEB_DIST: optionalString,
  AUTH_MODE: z.enum(["keys", "local"], { message: "must be keys or local" }).optional(),
  // OpenTelemetry tracing, by the OTel spec's names; off unless an exporter or endpoint is set.
  OTEL_SDK_DISABLED: z.preprocess(
    (v) => (typeof v === "string" ? v.trim().toLowerCase() || undefined : v),
    z.enum(["true", "false"], { message: "must be true or false" }).optional(),
  ),
  OTEL_TRACES_EXPORTER: z.preprocess(
    (v) => (typeof v === "string" ? v.trim().toLowerCase() || undefined : v),
    z.enum(["otlp", "none"], { message: "must be otlp or none" }).optional(),
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl(["http:", "https:"], "http://collector:4318"),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl(
    ["http:", "https:"],
    "http://collector:4318/v1/traces",
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol,
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList,
  OTEL_EXPORTER_OTLP_TIMEOUT: optionalInteger(1, 600_000),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: optionalInteger(1, 600_000),
  OTEL_SERVICE_NAME: optionalString,
  OTEL_RESOURCE_ATTRIBUTES: keyValueList,
  OTEL_TRACES_SAMPLER: z.preprocess(
    (v) => (typeof v === "string" ? v.trim().toLowerCase() || undefined : v),
    z.enum(samplers, { message: `must be one of ${samplers.join(", ")}` }).optional(),
  ),
  OTEL_TRACES_SAMPLER_ARG: z.preprocess(
    (v) => (v === undefined || v === "" ? undefined : Number(v)),
    z
      .number({ message: "must be a number from 0 to 1" })
      .min(0, { message: "must be a number from 0 to 1" })
      .max(1, { message: "must be a number from 0 to 1" })
      .optional(),
  ),
});

/** Every environment variable Promptline reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** Promptline's configuration, parsed once at start; code receives it as an argument. */
export interface Config {
  role: ProcessRole;
  host: string;
  port: number;
  /** Unset means the embedded PGlite database in `pgliteDir`. */
  databaseUrl: string | undefined;
  pgliteDir: string;
  /** Unset means localhost:6379 if it answers, else a private redis-server. */
  redisUrl: string | undefined;
  queuePrefix: string;
  nim: { baseUrl: string; apiKey: string | undefined } | undefined;
  simulator: { mode: "embedded" } | { mode: "external"; baseUrl: string } | undefined;
  workerConcurrency: number;
  /** Per provider name (`nim`, `simulator`): what one process may send it; a provider not named is unlimited. */
  providerLimits: Record<string, ProviderLimits>;
  /** Longest one attempt may run when a task sets no timeout. */
  taskTimeoutMs: number;
  /** A dead worker's jobs are re-delivered after this long. */
  workerLockMs: number;
  /** On SIGTERM, running tasks get this long to finish before they go back to the queue. */
  shutdownGraceMs: number;
  /** Exponential backoff with full jitter between attempts: first ceiling and largest ceiling. */
  retry: { baseMs: number; maxMs: number };
  /** How often the recovery sweep looks for tasks a crash left behind. */
  recoveryIntervalMs: number;
  /** Completed tasks older than this many days are deleted hourly; unset = kept forever. */
  retentionDays: number | undefined;
  /**
   * Longest a unary RPC may run, whatever deadline the caller sent (a
   * shorter one is kept); past it the call answers DeadlineExceeded. Server
   * streams are exempt: they live as long as the caller wants.
   */
  maxRequestTimeoutMs: number;
  /** A separate port serving only /metrics (for worker processes, which have no API port); unset = none. */
  metricsPort: number | undefined;
  /**
   * format undefined: pretty on a terminal, JSON otherwise (decided by main).
   * `secrets`: configured values (API keys) scrubbed from every log line.
   */
  log: {
    level: (typeof logLevels)[number];
    format: "json" | "pretty" | undefined;
    secrets: readonly string[];
  };
  /** The built web UI to serve; unset means web/dist of this checkout. */
  webDist: string | undefined;
  /**
   * `keys`: every RPC needs an API key. `local`: no authentication, every
   * caller is the built-in admin; allowed only on a loopback HOST.
   */
  authMode: "keys" | "local";
  /** OpenTelemetry tracing; undefined (the default) means off, with no tracing code on any path. */
  tracing: TracingConfig | undefined;
}

/** Where and how spans are exported (OTLP over HTTP) and which traces are kept. */
export interface TracingConfig {
  /** The full OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  url: string;
  protocol: "http/protobuf" | "http/json";
  headers: Record<string, string>;
  /** Longest one export may take, retries included; also bounds the flush at shutdown. */
  timeoutMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: TraceSampler;
  /** For the ratio samplers: the fraction of traces kept. */
  ratio: number;
}

/** One bad variable: its name and what is wrong with it. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Thrown by {@link loadConfig} with every problem at once, so a user fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/**
 * Parses and validates the environment. Every problem is reported with the
 * variable's name; nothing else in the codebase reads `process.env`.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? "environment"),
        message: issue.message,
      })),
    );
  }
  const e = parsed.data;
  const problems: ConfigProblem[] = [];

  // NIM is on with a key (hosted) or with an explicit base URL (self-hosted needs no key).
  const nimOn = e.NVIDIA_API_KEY !== undefined || e.LLM_BASE_URL !== undefined;
  const nim = nimOn
    ? { baseUrl: e.LLM_BASE_URL ?? DEFAULT_NIM_BASE_URL, apiKey: e.NVIDIA_API_KEY }
    : undefined;

  let simulator: Config["simulator"];
  if (e.SIMULATOR_URL !== undefined) {
    if (e.SIMULATOR === "off") {
      problems.push({ variable: "SIMULATOR_URL", message: "is set but SIMULATOR=off" });
    }
    simulator = { mode: "external", baseUrl: e.SIMULATOR_URL };
  } else if (e.SIMULATOR === "on" || (e.SIMULATOR === "auto" && !nimOn)) {
    simulator = { mode: "embedded" };
  }

  // Unset: local on loopback (a fresh `pnpm start` needs no setup), keys anywhere else.
  const authMode = e.AUTH_MODE ?? (isLoopback(e.HOST) ? "local" : "keys");
  if (authMode === "local" && !isLoopback(e.HOST)) {
    problems.push({
      variable: "AUTH_MODE",
      message: `local (no authentication) is only allowed when HOST is a loopback address, not ${e.HOST}; use AUTH_MODE=keys`,
    });
  }

  const tracing = tracingConfig(e, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    role: e.PROMPTLINE_ROLE,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    pgliteDir: e.PGLITE_DIR,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    nim,
    simulator,
    workerConcurrency: e.WORKER_CONCURRENCY,
    providerLimits: e.PROVIDER_LIMITS,
    taskTimeoutMs: e.TASK_TIMEOUT_MS,
    workerLockMs: e.WORKER_LOCK_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    retry: { baseMs: e.RETRY_BASE_MS, maxMs: e.RETRY_MAX_MS },
    recoveryIntervalMs: e.RECOVERY_INTERVAL_MS,
    retentionDays: e.RETENTION_DAYS,
    maxRequestTimeoutMs: e.MAX_REQUEST_TIMEOUT_MS,
    metricsPort: e.METRICS_PORT,
    log: {
      level: e.LOG_LEVEL,
      format: e.LOG_FORMAT,
      secrets: [
        e.NVIDIA_API_KEY,
        urlPassword(e.DATABASE_URL),
        urlPassword(e.REDIS_URL),
        // OTLP headers usually carry the collector's credentials.
        ...Object.values(tracing?.headers ?? {}),
      ].filter((s): s is string => s !== undefined && s !== ""),
    },
    webDist: e.WEB_DIST,
    authMode,
    tracing,
  };
}

/**
 * Tracing is on with OTEL_TRACES_EXPORTER=otlp, or when an OTLP endpoint is
 * set and the exporter is not `none`; OTEL_SDK_DISABLED=true turns it off.
 * Signal-specific variables win over the general ones, as the spec says.
 */
function tracingConfig(
  e: z.infer<typeof envSchema>,
  problems: ConfigProblem[],
): TracingConfig | undefined {
  const endpointSet =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined ||
    e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined;
  const exporter = e.OTEL_TRACES_EXPORTER ?? (endpointSet ? "otlp" : "none");
  if (e.OTEL_SDK_DISABLED === "true" || exporter === "none") return undefined;
  const sampler = e.OTEL_TRACES_SAMPLER ?? "parentbased_always_on";
  if (e.OTEL_TRACES_SAMPLER_ARG !== undefined && !sampler.endsWith("traceidratio")) {
    problems.push({
      variable: "OTEL_TRACES_SAMPLER_ARG",
      message: `is set but OTEL_TRACES_SAMPLER=${sampler} takes no argument`,
    });
  }
  return {
    url:
      e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      // The general endpoint is a base: the signal's path is appended to it.
      `${(e.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces`,
    protocol:
      e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf",
    headers: { ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    timeoutMs: e.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? e.OTEL_EXPORTER_OTLP_TIMEOUT ?? 10_000,
    serviceName: e.OTEL_SERVICE_NAME ?? e.OTEL_RESOURCE_ATTRIBUTES["service.name"] ?? "promptline",
    resourceAttributes: e.OTEL_RESOURCE_ATTRIBUTES,
    sampler,
    ratio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

/** The password inside a connection URL, as written and decoded, to keep it out of logs. */
function urlPassword(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const password = new URL(url).password;
  return password === "" ? undefined : decodeURIComponent(password);
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) or `localhost`: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0*:)*:?0*1$/.test(h) || h.startsWith("::ffff:127.");
  return false;
}
