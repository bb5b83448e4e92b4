import { STATUS_CODES } from "node:http";

/**
 * What went wrong talking to a provider, as a stable code the worker stores on
 * the attempt and the UI can explain. Whether a code is worth retrying is
 * decided once, in {@link RETRYABLE}.
 */
export type ProviderErrorCode =
  | "PROVIDER_BAD_REQUEST"
  | "PROVIDER_UNAUTHORIZED"
  | "PROVIDER_PAYMENT_REQUIRED"
  | "PROVIDER_FORBIDDEN"
  | "MODEL_NOT_FOUND"
  | "PROVIDER_NOT_FOUND"
  | "PROVIDER_CONFLICT"
  | "PROVIDER_UNPROCESSABLE"
  | "PROVIDER_RATE_LIMITED"
  | "PROVIDER_SERVER_ERROR"
  | "PROVIDER_UNAVAILABLE"
  | "PROVIDER_CONNECTION"
  | "PROVIDER_TIMEOUT"
  | "PROVIDER_BAD_RESPONSE"
  | "PROVIDER_STREAM_INTERRUPTED"
  | "PROVIDER_REDIRECTED"
  | "CANCELLED";

/**
 * The retry policy of the design ("A task's life" → Retries) as data:
 * transient failures (connection, timeouts, 408/409/429/5xx, broken or cut
 * responses) are retried; the caller's own mistakes and cancellation are not.
 */
export const RETRYABLE: Readonly<Record<ProviderErrorCode, boolean>> = {
  PROVIDER_BAD_REQUEST: false,
  PROVIDER_UNAUTHORIZED: false,
  PROVIDER_PAYMENT_REQUIRED: false,
  PROVIDER_FORBIDDEN: false,
  MODEL_NOT_FOUND: false,
  PROVIDER_NOT_FOUND: false,
  PROVIDER_CONFLICT: true,
  PROVIDER_UNPROCESSABLE: false,
  PROVIDER_RATE_LIMITED: true,
  PROVIDER_SERVER_ERROR: true,
  PROVIDER_UNAVAILABLE: true,
  PROVIDER_CONNECTION: true,
  PROVIDER_TIMEOUT: true,
  PROVIDER_BAD_RESPONSE: true,
  PROVIDER_STREAM_INTERRUPTED: true,
  PROVIDER_REDIRECTED: false,
  CANCELLED: false,
};

/** Everything needed to build a {@link ProviderError}; `retryable` follows from `code`. */
export interface ProviderErrorInit {
  code: ProviderErrorCode;
  message: string;
  provider: string;
  httpStatus?: number | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/**
 * The one error the LLM layer throws for anything a provider call can end in.
 * `message` is the provider's own words where it gave any, so a user reading a
 * failed attempt sees what the provider said, not our paraphrase.
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: ProviderErrorCode;
  readonly provider: string;
  /** The status the provider answered with (HTTP, or the code of an in-stream error event). */
  readonly httpStatus: number | undefined;
  readonly retryable: boolean;
  /** How long the provider asked us to wait (`retry-after-ms` or `Retry-After`). */
  readonly retryAfterMs: number | undefined;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.provider = init.provider;
    this.httpStatus = init.httpStatus;
    this.retryable = RETRYABLE[init.code];
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Longest provider message we keep: enough for any real explanation, never a whole page. */
export const MAX_MESSAGE_LENGTH = 500;

/** What an error body said, in the provider's words. */
export interface ErrorBodyInfo {
  message: string | undefined;
  /** The provider's machine-readable type or code, when it sent one (e.g. `model_not_found`). */
  kind: string | undefined;
  /** A numeric status carried inside the body (vLLM's flat shape, problem+json, in-stream errors). */
  status: number | undefined;
}

/**
 * Extracts the message from every error body shape NIM, vLLM, Ollama and
 * OpenAI send: nested `{error:{message}}`, flat `{object:"error",message}`,
 * problem+json `{title,detail}`, `{error:"…"}`, `{detail:"…"}`, FastAPI's
 * `{detail:[{loc,msg}]}`, and plain text. HTML and empty bodies yield no
 * message, so the caller falls back to the status line.
 */
export function parseErrorBody(body: string): ErrorBodyInfo {
  const text = body.trim();
  if (text === "") return { message: undefined, kind: undefined, status: undefined };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    if (looksLikeHtml(text)) return { message: undefined, kind: undefined, status: undefined };
    return { message: cap(text), kind: undefined, status: undefined };
  }
  return parseErrorJson(json);
}

/** Like {@link parseErrorBody}, for a body already parsed as JSON (e.g. an in-stream error event). */
export function parseErrorJson(json: unknown): ErrorBodyInfo {
  if (!isRecord(json)) {
    return {
      message: typeof json === "string" && json.trim() !== "" ? cap(json.trim()) : undefined,
      kind: undefined,
      status: undefined,
    };
  }
  const { error } = json;
  if (typeof error === "string" && error.trim() !== "") {
    return { message: cap(error.trim()), kind: undefined, status: undefined };
  }
  if (isRecord(error)) {
    const inner = parseErrorJson(error);
    return {
      message: inner.message,
      kind: stringOf(error.code) ?? stringOf(error.type) ?? inner.kind,
      status: inner.status ?? statusOf(json.status) ?? statusOf(json.code),
    };
  }
  const kind = stringOf(json.code) ?? stringOf(json.type);
  const status = statusOf(json.status) ?? statusOf(json.code);
  const message =
    nonEmpty(json.message) ??
    nonEmpty(json.detail) ??
    validationMessage(json.detail) ??
    nonEmpty(json.title) ??
    nonEmpty(json.msg);
  return { message: message === undefined ? undefined : cap(message), kind, status };
}

/**
 * Milliseconds the provider asked us to wait: `retry-after-ms` (OpenAI-style,
 * most precise) wins over `Retry-After` in seconds or as an HTTP date.
 */
export function parseRetryAfter(
  headers: { get(name: string): string | null },
  now: number = Date.now(),
): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A non-2xx HTTP answer, as the client saw it. */
export interface HttpFailure {
  provider: string;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  body: string;
}

/** Classifies a non-2xx response and keeps the provider's message (or its status line). */
export function errorFromResponse(failure: HttpFailure, now: number = Date.now()): ProviderError {
  const info = parseErrorBody(failure.body);
  const message = info.message ?? statusLine(failure.status, failure.statusText);
  return new ProviderError({
    code: codeForStatus(failure.status, `${message} ${info.kind ?? ""}`),
    message,
    provider: failure.provider,
    httpStatus: failure.status,
    retryAfterMs: parseRetryAfter(failure.headers, now),
  });
}

/**
 * An error a provider reported inside a 200 response (vLLM and OpenAI send
 * `data: {"error":{…}}` when generation fails mid-stream). A status carried in
 * the payload classifies it; without one it counts as a server error.
 */
export function errorFromPayload(provider: string, payload: unknown): ProviderError {
  const info = parseErrorJson(payload);
  const message = info.message ?? "the provider reported an error without a message";
  const status = info.status;
  return new ProviderError({
    code: status === undefined ? "PROVIDER_SERVER_ERROR" : codeForStatus(status, message),
    message,
    provider,
    httpStatus: status,
  });
}

/** True when a parsed JSON value is an error report rather than a completion. */
export function isErrorPayload(payload: unknown): boolean {
  return isRecord(payload) && (payload.error !== undefined || payload.object === "error");
}

/**
 * The code for an HTTP status. A 404 is MODEL_NOT_FOUND only when the
 * provider's words are about the model; a 404 for a wrong base URL is a
 * configuration problem, and saying "model not found" would mislead.
 */
export function codeForStatus(status: number, about = ""): ProviderErrorCode {
  switch (status) {
    case 400:
      return "PROVIDER_BAD_REQUEST";
    case 401:
      return "PROVIDER_UNAUTHORIZED";
    case 402:
      return "PROVIDER_PAYMENT_REQUIRED";
    case 403:
      return "PROVIDER_FORBIDDEN";
    case 404:
      return /model/i.test(about) ? "MODEL_NOT_FOUND" : "PROVIDER_NOT_FOUND";
    case 408:
    case 504:
      return "PROVIDER_TIMEOUT";
    case 409:
      return "PROVIDER_CONFLICT";
    case 422:
      return "PROVIDER_UNPROCESSABLE";
    case 429:
      return "PROVIDER_RATE_LIMITED";
    case 502:
    case 503:
      return "PROVIDER_UNAVAILABLE";
  }
  if (status >= 500) return "PROVIDER_SERVER_ERROR";
  if (status >= 400) return "PROVIDER_BAD_REQUEST";
  return "PROVIDER_BAD_RESPONSE";
}

/** `"503 Service Unavailable"`: the status line, with Node's reason phrase when the server sent none (HTTP/2). */
export function statusLine(status: number, statusText: string): string {
  const reason = cap(statusText.trim()) || STATUS_CODES[status] || "";
  return reason === "" ? `HTTP ${status}` : `${status} ${reason}`;
}

/** Shortens text to {@link MAX_MESSAGE_LENGTH} characters. */
export function cap(text: string, max = MAX_MESSAGE_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Narrows unknown JSON to an object with string keys. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function looksLikeHtml(text: string): boolean {
  return /^<(!doctype|html|head|body|\?xml)/i.test(text) || /<\/(html|body|title)>/i.test(text);
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function statusOf(value: unknown): number | undefined {
  const n = typeof value === "string" && /^\d{3}$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

/** FastAPI / pydantic validation errors: `[{loc:["body","temperature"],msg:"…"}]` → `body.temperature: …`. */
function validationMessage(detail: unknown): string | undefined {
  if (!Array.isArray(detail)) return undefined;
  const parts: string[] = [];
  for (const item of detail) {
    if (!isRecord(item)) continue;
    const msg = nonEmpty(item.msg) ?? nonEmpty(item.message);
    if (msg === undefined) continue;
    const loc = Array.isArray(item.loc) ? item.loc.map(String).join(".") : "";
    parts.push(loc === "" ? msg : `${loc}: ${msg}`);
  }
  return parts.length === 0 ? undefined : parts.join("; ");
}
