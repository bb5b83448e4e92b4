import type { Readable } from "node:stream";
import { type Dispatcher, Pool } from "undici";
import {
  cap,
  errorFromPayload,
  errorFromResponse,
  isErrorPayload,
  isRecord,
  ProviderError,
  type ProviderErrorCode,
} from "./errors.js";
import { SseParser } from "./sse.js";

/**
 * How long each phase of a call may take. A provider that hangs in one phase
 * fails with PROVIDER_TIMEOUT naming that phase, and the task is retried,
 * instead of holding a worker slot until the caller gives up.
 */
export interface ClientTimeouts {
  /** Streaming: from sending the request to the response headers (connect, TLS, provider queueing). */
  headersMs: number;
  /** Streaming: from sending the request to the first generated token. */
  firstTokenMs: number;
  /** Streaming: the longest silence between two chunks once tokens flow. */
  idleMs: number;
  /** Non-streaming: the whole exchange, since the provider answers only when done. Also bounds `listModels`. */
  responseMs: number;
}

/** Generous enough for a large model on a busy hosted endpoint; a caller's signal can always cut sooner. */
export const DEFAULT_TIMEOUTS: Readonly<ClientTimeouts> = {
  headersMs: 30_000,
  firstTokenMs: 120_000,
  idleMs: 60_000,
  responseMs: 600_000,
};

/** One OpenAI-compatible endpoint. Configuration comes in here; the client never reads the environment. */
export interface OpenAiClientOptions {
  /** The provider's name, carried on every {@link ProviderError}. */
  name: string;
  /** Base URL up to and including `/v1`, e.g. `https://integrate.api.nvidia.com/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` to this base URL only. */
  apiKey?: string | undefined;
  /** Extra headers for every request (e.g. an organisation header of a self-hosted gateway). */
  headers?: Record<string, string> | undefined;
  timeouts?: Partial<ClientTimeouts> | undefined;
}

/** A chat message as OpenAI-compatible servers take it. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * A chat completion request. Only the fields set are sent: providers differ
 * in their defaults and some reject parameters they do not know, so Promptline
 * never injects values the user did not choose.
 */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number | undefined;
  top_p?: number | undefined;
  max_tokens?: number | undefined;
  seed?: number | undefined;
  stop?: string | string[] | undefined;
}

/** How to run one chat call. */
export interface ChatOptions {
  /** Aborting it aborts the HTTP request at once; ends in CANCELLED (or PROVIDER_TIMEOUT for a `TimeoutError` reason). */
  signal?: AbortSignal | undefined;
  /** Sent as `x-request-id` so the provider's logs can be matched to ours. */
  requestId?: string | undefined;
  /** W3C trace context of the call's span, sent as `traceparent`; set only when tracing is on. */
  traceparent?: string | undefined;
  /** Stream with SSE (tokens as they come, TTFT measured) or wait for the whole answer. */
  stream: boolean;
  /** Called with each piece of generated text as it arrives (once with the whole text when not streaming). */
  onDelta?: ((text: string) => void) | undefined;
}

/** Token counts as the provider reported them. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** The outcome of a successful chat call, with what an attempt row records. */
export interface ChatResult {
  content: string;
  /** The model the provider says answered (may differ from the requested alias). */
  responseModel: string;
  usage: TokenUsage | undefined;
  /** `stop`, `length`, … as the provider reported it. */
  finishReason: string | undefined;
  /** From sending the request to the end of the answer. */
  latencyMs: number;
  /** From sending the request to the first generated token; streaming only. */
  ttftMs: number | undefined;
}

/** What a request is assumed to generate when it sets no `max_tokens`. */
export const DEFAULT_COMPLETION_ESTIMATE = 1_024;

/**
 * A cheap upper-end guess of the tokens a request will use, for a
 * tokens-per-minute limit before the provider reports real usage: about four
 * characters per prompt token, a few per message for the chat template, and
 * `max_tokens` (or {@link DEFAULT_COMPLETION_ESTIMATE}) for the answer, the
 * way providers themselves count a request against such a limit.
 */
export function estimateTokens(request: Pick<ChatRequest, "messages" | "max_tokens">): number {
  let chars = 0;
  for (const message of request.messages) chars += message.content.length;
  const completion = request.max_tokens ?? DEFAULT_COMPLETION_ESTIMATE;
  return Math.ceil(chars / 4) + 4 * request.messages.length + completion;
}

/** A model as a provider's `/v1/models` describes it. */
export interface ProviderModel {
  id: string;
  ownedBy: string | undefined;
  /** Context window in tokens, when the server reports one (`max_model_len` on vLLM/NIM, `context_length` elsewhere). */
  contextLength: number | undefined;
}

/** A client for one OpenAI-compatible provider. Every failure is a {@link ProviderError}. */
export interface OpenAiClient {
  readonly name: string;
  readonly baseUrl: string;
  chat(request: ChatRequest, options: ChatOptions): Promise<ChatResult>;
  listModels(options?: ListModelsOptions): Promise<ProviderModel[]>;
}

/** How to run one `/v1/models` call. */
export interface ListModelsOptions {
  signal?: AbortSignal | undefined;
  /** Overrides the client's `responseMs`: a model picker should not wait minutes for a dead provider. */
  timeoutMs?: number | undefined;
}

/**
 * Builds the client for one provider. It sends whatever it is asked to at
 * once: the provider's limits are the registry's, and the caller takes a
 * permit before it takes a task, so no worker slot waits inside a call.
 */
export function createOpenAiClient(options: OpenAiClientOptions): OpenAiClient {
  return new HttpOpenAiClient(options);
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

type HttpResponse = Dispatcher.ResponseData;

class HttpOpenAiClient implements OpenAiClient {
  readonly name: string;
  readonly baseUrl: string;
  readonly #timeouts: ClientTimeouts;
  readonly #headers: Record<string, string>;
  /**
   * Keep-alive connections to the provider, shared by every call of this
   * client. undici's own API rather than global fetch: fetch builds WHATWG
   * Request/Response/Headers and web streams around the same core, about
   * 15 % of a busy worker's CPU. Undici's header and body timeouts are off:
   * the phase timers of {@link Call} bound every phase with our own errors.
   */
  readonly #pool: Pool;
  readonly #chatPath: string;
  readonly #modelsPath: string;

  constructor(options: OpenAiClientOptions) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#headers = { "user-agent": "promptline", ...options.headers };
    if (options.apiKey !== undefined && options.apiKey !== "") {
      this.#headers.authorization = `Bearer ${options.apiKey}`;
    }
    const chat = new URL(`${this.baseUrl}/chat/completions`);
    const models = new URL(`${this.baseUrl}/models`);
    this.#chatPath = chat.pathname + chat.search;
    this.#modelsPath = models.pathname + models.search;
    this.#pool = new Pool(chat.origin, { headersTimeout: 0, bodyTimeout: 0 });
  }

  async listModels(options: ListModelsOptions = {}): Promise<ProviderModel[]> {
    const call = new Call(this.name, this.baseUrl, options.signal);
    try {
      const ms = options.timeoutMs ?? this.#timeouts.responseMs;
      call.arm("response", ms, `no model list within ${ms} ms (response timeout)`);
      const response = await call.request(this.#pool, {
        method: "GET",
        path: this.#modelsPath,
        headers: { ...this.#headers, accept: "application/json" },
      });
      if (!isOk(response)) throw await this.#failure(response, call);
      const json = parseJson(await call.text(response), this.name);
      const data = isRecord(json) ? json.data : undefined;
      if (!Array.isArray(data)) throw badResponse(this.name, "the model list has no data array");
      return data.flatMap((entry): ProviderModel[] =>
        isRecord(entry) && typeof entry.id === "string"
          ? [
              {
                id: entry.id,
                ownedBy: typeof entry.owned_by === "string" ? entry.owned_by : undefined,
                contextLength: contextLengthOf(entry),
              },
            ]
          : [],
      );
    } finally {
      call.close();
    }
  }

  async chat(request: ChatRequest, options: ChatOptions): Promise<ChatResult> {
    const call = new Call(this.name, this.baseUrl, options.signal);
    const t = this.#timeouts;
    try {
      if (options.stream) {
        call.arm(
          "headers",
          t.headersMs,
          `no response headers within ${t.headersMs} ms (headers timeout)`,
        );
        call.arm(
          "first-token",
          t.firstTokenMs,
          `no first token within ${t.firstTokenMs} ms (first-token timeout)`,
        );
      } else {
        call.arm(
          "response",
          t.responseMs,
          `no complete response within ${t.responseMs} ms (response timeout)`,
        );
      }
      const headers: Record<string, string> = {
        ...this.#headers,
        "content-type": "application/json",
        accept: options.stream ? "text/event-stream" : "application/json",
      };
      if (options.requestId !== undefined) headers["x-request-id"] = options.requestId;
      if (options.traceparent !== undefined) headers.traceparent = options.traceparent;
      const response = await call.request(this.#pool, {
        method: "POST",
        path: this.#chatPath,
        headers,
        body: JSON.stringify(chatBody(request, options.stream)),
      });
      call.disarm("headers");
      if (!isOk(response)) throw await this.#failure(response, call);
      const type = headerOf(response, "content-type") ?? "";
      return options.stream && !type.includes("json")
        ? await this.#readStream(response, call, request, options)
        : await this.#readJson(response, call, request, options);
    } finally {
      call.close();
    }
  }

  async #readJson(
    response: HttpResponse,
    call: Call,
    request: ChatRequest,
    options: ChatOptions,
  ): Promise<ChatResult> {
    const json = parseJson(await call.text(response), this.name);
    const latencyMs = call.elapsed();
    if (isErrorPayload(json)) throw errorFromPayload(this.name, json);
    const choice = isRecord(json) && Array.isArray(json.choices) ? json.choices[0] : undefined;
    const message = isRecord(choice) ? choice.message : undefined;
    if (!isRecord(json) || !isRecord(choice) || !isRecord(message)) {
      throw badResponse(this.name, "the response has no choices[0].message");
    }
    const content = typeof message.content === "string" ? message.content : "";
    if (content !== "") options.onDelta?.(content);
    return {
      content,
      responseModel: typeof json.model === "string" ? json.model : request.model,
      usage: usageOf(json.usage),
      finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : undefined,
      latencyMs,
      ttftMs: undefined,
    };
  }

  async #readStream(
    response: HttpResponse,
    call: Call,
    request: ChatRequest,
    options: ChatOptions,
  ): Promise<ChatResult> {
    const parser = new SseParser();
    const state = new StreamState(request.model);
    const onEvent = (data: string): boolean => {
      if (data === "[DONE]") return true;
      const chunk = parseJson(data, this.name);
      if (isErrorPayload(chunk)) throw errorFromPayload(this.name, chunk);
      const progress = state.apply(chunk, options.onDelta);
      if (progress && state.ttftMs === undefined) {
        state.ttftMs = call.elapsed();
        const idleMs = this.#timeouts.idleMs;
        call.disarm("first-token");
        call.arm("idle", idleMs, `no data for ${idleMs} ms mid-stream (idle timeout)`);
      }
      return false;
    };
    // Events rather than an async iterator: one promise per call, not one
    // per chunk. The stream decodes UTF-8 itself, keeping characters split
    // across chunks whole. The answer is complete at [DONE]; what follows
    // (normally just the end of the chunked body) flows on unread.
    const body = response.body.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let chunks = 0;
      const settle = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      body.on("data", (text: string) => {
        if (settled) return;
        chunks++;
        call.refresh("idle");
        try {
          for (const event of parser.push(text)) if (onEvent(event.data)) return settle();
        } catch (error) {
          settle(error);
        }
      });
      body.on("end", () => {
        if (settled) return;
        try {
          let done = false;
          for (const event of parser.end()) done ||= onEvent(event.data);
          if (!done && state.finishReason === undefined) {
            throw new ProviderError({
              code: "PROVIDER_STREAM_INTERRUPTED",
              message: "the stream ended without a finish reason or [DONE]",
              provider: this.name,
            });
          }
          settle();
        } catch (error) {
          settle(error);
        }
      });
      body.on("error", (error) => {
        if (settled) return;
        settle(
          call.fail(
            error,
            "body",
            `the stream was cut after ${chunks} ${chunks === 1 ? "chunk" : "chunks"}`,
          ),
        );
      });
    });
    call.drain(body);
    return {
      content: state.content,
      responseModel: state.responseModel,
      usage: state.usage,
      finishReason: state.finishReason,
      latencyMs: call.elapsed(),
      ttftMs: state.ttftMs,
    };
  }

  /** The error for a non-2xx answer. undici never follows redirects, so a 3xx ends up here too. */
  async #failure(response: HttpResponse, call: Call): Promise<ProviderError> {
    if (response.statusCode >= 300 && response.statusCode < 400) {
      const location = headerOf(response, "location") ?? "another URL";
      return new ProviderError({
        code: "PROVIDER_REDIRECTED",
        message: `the provider redirected to ${cap(location, 200)}; configure that base URL instead`,
        provider: this.name,
        httpStatus: response.statusCode,
      });
    }
    const body = await call.textCapped(response, MAX_ERROR_BODY_BYTES);
    return errorFromResponse({
      provider: this.name,
      status: response.statusCode,
      statusText: response.statusText,
      headers: { get: (name) => headerOf(response, name) },
      body,
    });
  }
}

/** What a stream has said so far. Usage is replaced, never summed: servers that report it per chunk report totals. */
class StreamState {
  content = "";
  responseModel: string;
  usage: TokenUsage | undefined;
  finishReason: string | undefined;
  ttftMs: number | undefined;

  constructor(requestedModel: string) {
    this.responseModel = requestedModel;
  }

  /** Applies one chunk; true when it carried generated tokens (content or reasoning). */
  apply(chunk: unknown, onDelta: ((text: string) => void) | undefined): boolean {
    if (!isRecord(chunk)) return false;
    if (typeof chunk.model === "string" && chunk.model !== "") this.responseModel = chunk.model;
    const usage = usageOf(chunk.usage);
    if (usage !== undefined) this.usage = usage;
    if (!Array.isArray(chunk.choices)) return false;
    let progress = false;
    for (const choice of chunk.choices) {
      if (!isRecord(choice) || (choice.index !== undefined && choice.index !== 0)) continue;
      if (typeof choice.finish_reason === "string") this.finishReason = choice.finish_reason;
      const delta = choice.delta;
      if (!isRecord(delta)) continue;
      if (typeof delta.content === "string" && delta.content !== "") {
        this.content += delta.content;
        progress = true;
        onDelta?.(delta.content);
      }
      if (hasText(delta.reasoning_content) || hasText(delta.reasoning) || delta.tool_calls) {
        progress = true;
      }
    }
    return progress;
  }
}

/**
 * The reason a finished call's controller is aborted (and an unfinished body
 * destroyed) with. Made once: with no reason, abort() and undici each build
 * an error (stack trace and all) for every call, 2 % of a busy worker's CPU.
 */
const CALL_CLOSED = new Error("the call is over");

/** How long a finished stream's body may take to end before its connection is given up. */
const DRAIN_MS = 1_000;

/**
 * One HTTP exchange: its abort controller, its phase timers, and the link to
 * the caller's signal. Whatever aborts the exchange stores the ProviderError
 * to throw as the abort reason, so the code awaiting fetch or a read learns
 * why it was aborted without racing the timers.
 */
class Call {
  readonly #controller = new AbortController();
  readonly #started = performance.now();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: () => void;
  #draining: Readable | undefined;

  constructor(
    readonly provider: string,
    readonly baseUrl: string,
    caller: AbortSignal | undefined,
  ) {
    this.#caller = caller;
    this.#onCallerAbort = () => this.#abort(callerAbortError(provider, caller?.reason));
    if (caller?.aborted) this.#onCallerAbort();
    else caller?.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  elapsed(): number {
    return performance.now() - this.#started;
  }

  /** Starts the timer `name`, which aborts the call with PROVIDER_TIMEOUT and `message`. */
  arm(name: string, ms: number, message: string): void {
    this.disarm(name);
    const timer = setTimeout(() => {
      this.#abort(
        new ProviderError({ code: "PROVIDER_TIMEOUT", message, provider: this.provider }),
      );
    }, ms);
    this.#timers.set(name, timer);
  }

  disarm(name: string): void {
    const timer = this.#timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(name);
  }

  refresh(name: string): void {
    this.#timers.get(name)?.refresh();
  }

  /**
   * Sends the request; resolves at the response headers. The body must then
   * be read to its end or left to close(), which destroys it: an unread body
   * holds its connection.
   */
  async request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<HttpResponse> {
    this.#throwIfAborted();
    try {
      return await dispatcher.request({ ...options, signal: this.#controller.signal });
    } catch (error) {
      throw this.fail(error, "connect", `the request to ${this.baseUrl} failed`);
    }
  }

  async text(response: HttpResponse): Promise<string> {
    try {
      return await response.body.text();
    } catch (error) {
      throw this.fail(error, "body", "the response was cut");
    }
  }

  /** Reads at most `limit` bytes (error bodies can be whole HTML pages); a failed read keeps what arrived. */
  async textCapped(response: HttpResponse, limit: number): Promise<string> {
    const decoder = new TextDecoder();
    let text = "";
    let bytes = 0;
    try {
      // Leaving the loop early destroys the body (and its connection); its end returns the connection to the pool.
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        bytes += chunk.byteLength;
        text += decoder.decode(chunk, { stream: true });
        if (bytes >= limit) return text;
      }
      return text + decoder.decode();
    } catch {
      this.#throwIfAborted();
    }
    return text;
  }

  /** The error to throw for `error`, caught while connecting or reading the body. */
  fail(error: unknown, phase: "connect" | "body", context: string): ProviderError {
    const reason: unknown = this.#controller.signal.reason;
    if (this.#controller.signal.aborted && reason instanceof ProviderError) return reason;
    if (error instanceof ProviderError) return error;
    const { message, code } = describe(error);
    let errorCode: ProviderErrorCode =
      phase === "connect" ? "PROVIDER_CONNECTION" : "PROVIDER_STREAM_INTERRUPTED";
    if (code !== undefined && TIMEOUT_CAUSES.has(code)) errorCode = "PROVIDER_TIMEOUT";
    return new ProviderError({
      code: errorCode,
      message: `${context}: ${message}`,
      provider: this.provider,
      cause: error,
    });
  }

  /**
   * Lets a complete answer's body run to its end after the call, so its
   * connection goes back to the pool: servers often send [DONE] and the end
   * of the body in separate writes, and destroying the body in between
   * would cost a new connection (and TLS handshake) per call.
   */
  drain(body: Readable): void {
    this.#draining = body;
  }

  /**
   * Stops the timers and unhooks the caller's signal. A body not read to its
   * end is destroyed (an unfinished one would hold its connection), a
   * draining one only if it has not ended within {@link DRAIN_MS}.
   */
  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#caller?.removeEventListener("abort", this.#onCallerAbort);
    const body = this.#draining;
    if (body !== undefined && !body.destroyed) {
      const timer = setTimeout(() => this.#abort(CALL_CLOSED), DRAIN_MS).unref();
      body.once("close", () => clearTimeout(timer));
      return;
    }
    this.#abort(CALL_CLOSED);
  }

  #abort(error: Error): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(error);
  }

  #throwIfAborted(): void {
    const reason: unknown = this.#controller.signal.reason;
    if (this.#controller.signal.aborted && reason instanceof ProviderError) throw reason;
  }
}

const TIMEOUT_CAUSES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT",
]);

/** Maps the caller's abort: a `TimeoutError` reason (e.g. `AbortSignal.timeout`) is the overall deadline, anything else a cancel. */
function callerAbortError(provider: string, reason: unknown): ProviderError {
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new ProviderError({
      code: "PROVIDER_TIMEOUT",
      message: "the overall deadline passed (overall timeout)",
      provider,
      cause: reason,
    });
  }
  return new ProviderError({
    code: "CANCELLED",
    message: "the request was cancelled by the caller",
    provider,
    cause: reason,
  });
}

function badResponse(provider: string, message: string): ProviderError {
  return new ProviderError({ code: "PROVIDER_BAD_RESPONSE", message, provider });
}

function parseJson(text: string, provider: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const snippet = text.trim() === "" ? "an empty body" : JSON.stringify(cap(text.trim(), 120));
    throw badResponse(provider, `the provider sent invalid JSON: ${snippet}`);
  }
}

/** The request body: the caller's fields only, plus what streaming needs. */
function chatBody(request: ChatRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: request.model,
    messages: request.messages.map(({ role, content }) => ({ role, content })),
  };
  for (const key of ["temperature", "top_p", "max_tokens", "seed", "stop"] as const) {
    const value = request[key];
    if (value !== undefined) body[key] = value;
  }
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

function usageOf(value: unknown): TokenUsage | undefined {
  if (!isRecord(value)) return undefined;
  const prompt = value.prompt_tokens;
  const completion = value.completion_tokens;
  if (typeof prompt !== "number" || typeof completion !== "number") return undefined;
  const total = typeof value.total_tokens === "number" ? value.total_tokens : prompt + completion;
  return { promptTokens: prompt, completionTokens: completion, totalTokens: total };
}

function contextLengthOf(entry: Record<string, unknown>): number | undefined {
  for (const key of ["max_model_len", "context_length", "context_window", "max_context_length"]) {
    const value = entry[key];
    if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  }
  return undefined;
}

function hasText(value: unknown): boolean {
  return typeof value === "string" && value !== "";
}

function isOk(response: HttpResponse): boolean {
  return response.statusCode >= 200 && response.statusCode < 300;
}

/** A response header as one string (a repeated header's values joined), or null. */
function headerOf(response: HttpResponse, name: string): string | null {
  const value = response.headers[name.toLowerCase()];
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}

/** The most specific message and code in an error's cause chain (undici's errors may wrap the socket error). */
function describe(error: unknown): { message: string; code: string | undefined } {
  let message = "unknown error";
  let code: string | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if ("code" in current && typeof current.code === "string") code = current.code;
    if (current.message !== "") message = current.message;
    else if (current instanceof AggregateError && current.errors[0] instanceof Error) {
      message = current.errors[0].message;
    }
    current = current.cause;
  }
  if (code !== undefined && !message.includes(code)) message = `${message} (${code})`;
  return { message: cap(message, 300), code };
}
