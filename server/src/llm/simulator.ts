/**
 * An OpenAI-compatible LLM server on loopback: the offline demo, and what
 * every test and benchmark talks to over real HTTP.
 *
 * Models
 * - `echo`: answers `Echo: <text>`, where <text> is the last user message with
 *   every `[[sim …]]` block removed and surrounding whitespace trimmed (an
 *   empty text gives `Echo:`). `Echo: hello world` is 3 tokens.
 * - `lorem`: the classic lorem-ipsum passage (69 words) cycled, starting at
 *   word `seed mod 69` (seed 0 when unset), words joined by single spaces. Its
 *   length is `tokens=N`, else `max_tokens`, else the default `tokens` (64).
 *
 * Tokens are whitespace-separated words, everywhere: prompt_tokens counts the
 * words of every message as sent (directives included), completion_tokens the
 * words of the answer. `max_tokens` cuts the answer to that many words
 * (finish_reason `length`); `stop` cuts it before the first stop string.
 * Streamed deltas are one word each with its leading whitespace, so they
 * concatenate to exactly the non-streamed content.
 *
 * Directives pick timing and faults per request, so one simulator serves many
 * parallel tests. Anywhere in any message: `[[sim key=value flag …]]`; values
 * are bare (`[^\s"\]]+`) or double-quoted; later blocks override earlier ones;
 * an unknown key or a bad value is a 400 naming it. Keys:
 *
 * | key                | effect                                                               |
 * |--------------------|----------------------------------------------------------------------|
 * | `ttft=MS`          | delay before the first token (non-streaming: before the answer)      |
 * | `tps=N`            | tokens per second after the first; `0` = all at once                 |
 * | `tokens=N`         | length of a `lorem` answer                                           |
 * | `status=CODE`      | answer with this HTTP status (400–599) and an error body             |
 * | `warmup=N`         | fail (with `status`, default 503) only the first N requests of a key |
 * | `key=K`            | the warmup counter's key (default: the echoed text)                  |
 * | `retry_after=S`    | send `Retry-After: S` with the error                                 |
 * | `retry_after_ms=MS`| send `retry-after-ms: MS` with the error                             |
 * | `error_shape=X`    | `nested` (OpenAI, default), `flat` (vLLM), `problem` (NIM            |
 * |                    | problem+json), `string` (`{error:"…"}`), `detail` (`{detail:"…"}`),  |
 * |                    | `validation` (`{detail:[{loc,msg}]}`), `html`, `text`, `empty`       |
 * | `message="…"`      | the error's message (default `simulated <status> <reason>`)          |
 * | `hang`             | never answer, not even headers, until the client goes away           |
 * | `stall_after=N`    | stream N tokens, then go silent until the client goes away           |
 * |                    | (non-streaming: never answers)                                       |
 * | `drop_after=N`     | stream N tokens, then destroy the socket (non-streaming: half a body) |
 * | `reset`            | destroy the socket without answering                                 |
 * | `malformed`        | non-streaming: a 200 whose body is not JSON; streaming: an event     |
 * |                    | whose data is not JSON, after the first token                        |
 * | `error_after=N`    | after N tokens, an error event in the stream (non-streaming: a 200   |
 * |                    | with an error body); code 500, message from `message`                |
 * | `usage=MODE`       | `final` (default: one usage chunk when `include_usage`), `every`     |
 * |                    | (running totals on every chunk, like vLLM's continuous stats), `none`|
 * | `noisy`            | SSE the hard way: comments, `event:`/`id:` fields, CRLF, data split  |
 * |                    | over two lines, events written a few bytes at a time                 |
 *
 * The `…_after=N` faults always happen: with fewer than N tokens to send they
 * strike after the last one, before the finish chunk.
 *
 * With ttft=0 and tps=0 (the defaults) an answer is written in one go with no
 * timer, so benchmarks measure Promptline rather than the simulator.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo } from "node:net";
import { isRecord } from "./errors.js";

/** Error body shapes the simulator can answer with, one per family of real servers. */
export const ERROR_SHAPES = [
  "nested",
  "flat",
  "problem",
  "string",
  "detail",
  "validation",
  "html",
  "text",
  "empty",
] as const;
/** One of {@link ERROR_SHAPES}. */
export type ErrorShape = (typeof ERROR_SHAPES)[number];

/** How usage is reported in a stream; see the `usage=` directive. */
export const USAGE_MODES = ["final", "every", "none"] as const;
/** One of {@link USAGE_MODES}. */
export type UsageMode = (typeof USAGE_MODES)[number];

/**
 * The knobs of one simulated request: from directives in the prompt, over the
 * simulator's defaults. Each field is a directive key in camelCase (`ttft` →
 * `ttftMs`, `tps` → `tokensPerSecond`, `retry_after` → `retryAfterS`, …).
 */
export interface SimulatorDirectives {
  ttftMs?: number;
  tokensPerSecond?: number;
  tokens?: number;
  status?: number;
  warmup?: number;
  key?: string;
  retryAfterS?: number;
  retryAfterMs?: number;
  errorShape?: ErrorShape;
  message?: string;
  hang?: boolean;
  stallAfter?: number;
  dropAfter?: number;
  reset?: boolean;
  malformed?: boolean;
  errorAfter?: number;
  usage?: UsageMode;
  noisy?: boolean;
}

/** Where to listen and how to behave when a prompt says nothing. */
export interface SimulatorOptions {
  /** Loopback by default: the simulator is a test and demo tool, not a service. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Knobs applied to every request before its own directives, e.g. `{ ttftMs: 300, tokensPerSecond: 40 }` for a demo. */
  defaults?: SimulatorDirectives;
  /** How many recent requests {@link Simulator.stats} keeps. */
  historySize?: number;
}

/** One request as received, for tests that check what the client sent. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body (undefined for GET or a body that is not JSON). */
  body: unknown;
}

/** Counters a test can wait on. */
export interface SimulatorStats {
  /** Requests received since start. */
  requests: number;
  /** Responses still open. */
  active: number;
  /** Responses written to the end. */
  completed: number;
  /** Responses the client abandoned before their end (a cancelled or timed-out call). */
  clientAborts: number;
  /** Timers pending now; 0 whenever nothing is being paced. */
  timers: number;
  /** The last `historySize` requests, oldest first. */
  recent: RecordedRequest[];
}

/** A running simulator. */
export interface Simulator {
  /** Base URL ending in `/v1`, ready for a provider's `baseUrl`. */
  url: string;
  stats(): SimulatorStats;
  /** Stops listening and destroys open connections, hanging streams included. */
  close(): Promise<void>;
}

/** The models the simulator serves. */
export const SIMULATOR_MODELS = ["echo", "lorem"] as const;

/** The context window the simulator reports for its models (as vLLM's `max_model_len`). */
export const SIMULATOR_CONTEXT_LENGTH = 32_768;

const DEFAULT_LOREM_TOKENS = 64;
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_WARMUP_KEYS = 10_000;

const LOREM = (
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut " +
  "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco " +
  "laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in " +
  "voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat " +
  "non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."
).split(" ");

/** Counts tokens the simulator's way: whitespace-separated words. */
export function countTokens(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** The `lorem` model's answer of `tokens` words for a seed. */
export function loremText(tokens: number, seed = 0): string {
  const start = ((seed % LOREM.length) + LOREM.length) % LOREM.length;
  const words: string[] = [];
  for (let i = 0; i < tokens; i++) words.push(LOREM[(start + i) % LOREM.length] ?? "");
  return words.join(" ");
}

const DIRECTIVE_BLOCK = /\[\[\s*sim\b((?:"[^"]*"|[^\]"])*)\]\]/gi;

/**
 * Reads every `[[sim …]]` block in `text`. Returns the knobs, the text with
 * the blocks removed, and a message per unreadable key or value.
 */
export function parseDirectives(text: string): {
  directives: SimulatorDirectives;
  text: string;
  errors: string[];
} {
  const directives: SimulatorDirectives = {};
  const errors: string[] = [];
  const stripped = text.replace(DIRECTIVE_BLOCK, (_block, args: string) => {
    errors.push(...applyDirectiveArgs(directives, args));
    return "";
  });
  return { directives, text: stripped, errors };
}

/** Applies `key=value flag …` (the inside of a block, or the CLI's arguments) to `into`. */
export function applyDirectiveArgs(into: SimulatorDirectives, args: string): string[] {
  const errors: string[] = [];
  const pair = /\s*([A-Za-z_]+)(?:=(?:"([^"]*)"|([^\s"\]]*)))?\s*/y;
  let at = 0;
  while (at < args.length) {
    pair.lastIndex = at;
    const match = pair.exec(args);
    if (match === null || match[0] === "") {
      errors.push(
        `cannot read simulator directive near ${JSON.stringify(args.slice(at, at + 20))}`,
      );
      break;
    }
    at = pair.lastIndex;
    try {
      applyDirective(into, (match[1] ?? "").toLowerCase(), match[2] ?? match[3]);
    } catch (error) {
      if (!(error instanceof DirectiveError)) throw error;
      errors.push(error.message);
    }
  }
  return errors;
}

class DirectiveError extends Error {}

function applyDirective(d: SimulatorDirectives, key: string, value: string | undefined): void {
  const number = (min: number, max: number, integer = true): number => {
    const n = Number(value);
    if (
      value === undefined ||
      value === "" ||
      !Number.isFinite(n) ||
      n < min ||
      n > max ||
      (integer && !Number.isInteger(n))
    ) {
      throw new DirectiveError(
        `simulator directive ${key} needs ${integer ? "a whole number" : "a number"} from ${min} to ${max}, got ${JSON.stringify(value ?? "")}`,
      );
    }
    return n;
  };
  const flag = (): boolean => {
    if (value === undefined || value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw new DirectiveError(
      `simulator directive ${key} is a flag (true or false), got ${JSON.stringify(value)}`,
    );
  };
  const oneOf = <T extends string>(allowed: readonly T[]): T => {
    const found = allowed.find((a) => a === value);
    if (found !== undefined) return found;
    throw new DirectiveError(
      `simulator directive ${key} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value ?? "")}`,
    );
  };
  const count = () => number(0, 1_000_000);
  switch (key) {
    case "ttft":
      d.ttftMs = number(0, 600_000, false);
      return;
    case "tps":
      d.tokensPerSecond = number(0, 1e9, false);
      return;
    case "tokens":
      d.tokens = count();
      return;
    case "status":
      d.status = number(400, 599);
      return;
    case "warmup":
      d.warmup = count();
      return;
    case "key":
      d.key = value ?? "";
      return;
    case "retry_after":
      d.retryAfterS = number(0, 86_400, false);
      return;
    case "retry_after_ms":
      d.retryAfterMs = number(0, 86_400_000, false);
      return;
    case "error_shape":
      d.errorShape = oneOf(ERROR_SHAPES);
      return;
    case "message":
      d.message = value ?? "";
      return;
    case "hang":
      d.hang = flag();
      return;
    case "stall_after":
      d.stallAfter = count();
      return;
    case "drop_after":
      d.dropAfter = count();
      return;
    case "reset":
      d.reset = flag();
      return;
    case "malformed":
      d.malformed = flag();
      return;
    case "error_after":
      d.errorAfter = count();
      return;
    case "usage":
      d.usage = oneOf(USAGE_MODES);
      return;
    case "noisy":
      d.noisy = flag();
      return;
    default:
      throw new DirectiveError(`unknown simulator directive ${JSON.stringify(key)}`);
  }
}

/** Starts the simulator; resolves once it is listening. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? "127.0.0.1";
  const state = new SimulatorState(options.defaults ?? {}, options.historySize ?? 100);
  const server = createServer((req, res) => state.handle(req, res));
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: options.port ?? 0, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = isAddressInfo(address) ? address.port : 0;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/v1`,
    stats: () => state.stats(),
    close: async () => {
      state.stopAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function isAddressInfo(value: unknown): value is AddressInfo {
  return isRecord(value) && typeof value.port === "number";
}

/** One open response and the timer pacing it, so a client that leaves stops all work for it. */
interface Exchange {
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
  /** The simulator cut it on purpose (`drop_after`, `reset`): not a client abort. */
  cut: boolean;
}

/** A request as {@link SimulatorState.stats} reports it, its headers flattened only when asked for. */
interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

interface Completion {
  id: string;
  model: string;
  created: number;
  pieces: string[];
  finishReason: "stop" | "length";
  promptTokens: number;
}

class SimulatorState {
  readonly #defaults: SimulatorDirectives;
  readonly #historySize: number;
  readonly #open = new Set<Exchange>();
  readonly #warmups = new Map<string, number>();
  #recent: Received[] = [];
  #requests = 0;
  #completed = 0;
  #clientAborts = 0;
  #timers = 0;
  #nextId = 1;

  constructor(defaults: SimulatorDirectives, historySize: number) {
    this.#defaults = defaults;
    this.#historySize = historySize;
  }

  stats(): SimulatorStats {
    return {
      requests: this.#requests,
      active: this.#open.size,
      completed: this.#completed,
      clientAborts: this.#clientAborts,
      timers: this.#timers,
      recent: this.#recent.map(({ method, path, headers, body }) => ({
        method,
        path,
        headers: flatHeaders(headers),
        body,
      })),
    };
  }

  stopAll(): void {
    for (const exchange of this.#open) this.#clearTimer(exchange);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#requests++;
    const exchange: Exchange = { res, timer: undefined, cut: false };
    this.#open.add(exchange);
    req.on("error", () => {});
    res.on("error", () => {});
    res.on("close", () => {
      this.#open.delete(exchange);
      this.#clearTimer(exchange);
      if (res.writableFinished) this.#completed++;
      else if (!exchange.cut) this.#clientAborts++;
    });
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        body = undefined;
      }
      this.#record({ method: req.method ?? "GET", path, headers: req.headers, body });
      if (size > MAX_BODY_BYTES) {
        sendError(res, 413, { message: "request body too large" });
      } else {
        this.#route(exchange, req.method ?? "GET", path, raw, body);
      }
    });
  }

  #record(request: Received): void {
    this.#recent.push(request);
    if (this.#recent.length > this.#historySize) this.#recent.shift();
  }

  #route(exchange: Exchange, method: string, path: string, raw: string, body: unknown): void {
    const { res } = exchange;
    if (method === "GET" && (path === "/v1/models" || path === "/models")) {
      sendJson(res, 200, {
        object: "list",
        data: SIMULATOR_MODELS.map((id) => ({
          id,
          object: "model",
          created: 1_700_000_000,
          owned_by: "promptline-simulator",
          max_model_len: SIMULATOR_CONTEXT_LENGTH,
        })),
      });
    } else if (method === "GET" && (path === "/health" || path === "/v1/health")) {
      sendJson(res, 200, { status: "ok" });
    } else if (
      method === "POST" &&
      (path === "/v1/chat/completions" || path === "/chat/completions")
    ) {
      if (raw !== "" && body === undefined) {
        sendError(res, 400, { message: "We could not parse the JSON body of your request." });
      } else {
        this.#chat(exchange, body);
      }
    } else {
      sendError(res, 404, { message: `Invalid URL (${method} ${path})` });
    }
  }

  #chat(exchange: Exchange, body: unknown): void {
    const { res } = exchange;
    const request = readChatRequest(body);
    if (typeof request === "string") {
      sendError(res, 400, { message: request });
      return;
    }
    const directives: SimulatorDirectives = { ...this.#defaults };
    const errors: string[] = [];
    let prompt = "";
    let promptTokens = 0;
    for (const message of request.messages) {
      promptTokens += countTokens(message.content);
      let text = message.content;
      // Every block starts with `[[`; most prompts have none, so skip the parse.
      if (text.includes("[[")) {
        const parsed = parseDirectives(text);
        Object.assign(directives, parsed.directives);
        errors.push(...parsed.errors);
        text = parsed.text;
      }
      if (message.role === "user") prompt = text.trim();
    }
    if (errors.length > 0) {
      sendError(res, 400, { message: errors.join("; ") });
      return;
    }
    if (!SIMULATOR_MODELS.some((m) => m === request.model)) {
      sendError(res, 404, {
        message: `The model \`${request.model}\` does not exist or you do not have access to it.`,
        code: "model_not_found",
      });
      return;
    }
    const d = directives;
    if (d.reset === true) {
      exchange.cut = true;
      res.socket?.destroy();
      return;
    }
    if (d.hang === true) return;
    const status = this.#failingStatus(d, prompt);
    if (status !== undefined) {
      sendError(res, status, d);
      return;
    }
    const completion = this.#complete(request, d, prompt, promptTokens);
    if (request.stream) this.#stream(exchange, completion, d, request.includeUsage);
    else this.#answer(exchange, completion, d);
  }

  #failingStatus(d: SimulatorDirectives, prompt: string): number | undefined {
    if (d.warmup === undefined) return d.status;
    const key = d.key ?? prompt;
    const seen = (this.#warmups.get(key) ?? 0) + 1;
    this.#warmups.delete(key);
    this.#warmups.set(key, seen);
    if (this.#warmups.size > MAX_WARMUP_KEYS) {
      const oldest = this.#warmups.keys().next();
      if (oldest.done !== true) this.#warmups.delete(oldest.value);
    }
    return seen <= d.warmup ? (d.status ?? 503) : undefined;
  }

  #complete(
    request: ChatRequestIn,
    d: SimulatorDirectives,
    prompt: string,
    promptTokens: number,
  ): Completion {
    let text: string;
    let finishReason: "stop" | "length" = "stop";
    if (request.model === "lorem") {
      const wanted = d.tokens ?? request.maxTokens ?? this.#defaults.tokens ?? DEFAULT_LOREM_TOKENS;
      text = loremText(wanted, request.seed ?? 0);
      if (d.tokens === undefined && request.maxTokens !== undefined) finishReason = "length";
    } else {
      text = prompt === "" ? "Echo:" : `Echo: ${prompt}`;
    }
    for (const stop of request.stop) {
      const at = stop === "" ? -1 : text.indexOf(stop);
      if (at !== -1) {
        text = text.slice(0, at);
        finishReason = "stop";
      }
    }
    let pieces = text.split(/(?<=\S)(?=\s)/).filter((p) => p !== "");
    if (request.maxTokens !== undefined && countTokens(text) > request.maxTokens) {
      pieces = pieces.slice(0, request.maxTokens);
      finishReason = "length";
    }
    return {
      id: `chatcmpl-sim-${this.#nextId++}`,
      model: request.model,
      created: Math.floor(Date.now() / 1000),
      pieces,
      finishReason,
      promptTokens,
    };
  }

  #answer(exchange: Exchange, c: Completion, d: SimulatorDirectives): void {
    if (d.stallAfter !== undefined) return;
    const tps = d.tokensPerSecond ?? 0;
    const paced = Math.max(0, c.pieces.length - 1);
    const delay = (d.ttftMs ?? 0) + (tps > 0 ? (paced * 1000) / tps : 0);
    this.#after(exchange, delay, () => {
      const { res } = exchange;
      const content = c.pieces.join("");
      if (d.errorAfter !== undefined) {
        sendJson(
          res,
          200,
          errorBody(500, "flat", d.message ?? "simulated error during generation"),
        );
      } else if (d.malformed === true) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(`{"id":"${c.id}","object":"chat.completion","choices":[{"message":`);
      } else {
        const json = JSON.stringify({
          id: c.id,
          object: "chat.completion",
          created: c.created,
          model: c.model,
          choices: [
            {
              index: 0,
              message: { role: "assistant", content },
              logprobs: null,
              finish_reason: c.finishReason,
            },
          ],
          ...(d.usage === "none" ? {} : { usage: usage(c, c.pieces.length) }),
        });
        if (d.dropAfter !== undefined) {
          res.writeHead(200, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(json),
          });
          res.write(json.slice(0, Math.floor(json.length / 2)), () => this.#cut(exchange));
        } else {
          sendJson(res, 200, json);
        }
      }
    });
  }

  #stream(exchange: Exchange, c: Completion, d: SimulatorDirectives, includeUsage: boolean): void {
    exchange.res.writeHead(200, SSE_HEADERS);
    const noisy = d.noisy === true;
    const usageMode = d.usage ?? "final";
    const ttft = d.ttftMs ?? 0;
    const interval = (d.tokensPerSecond ?? 0) > 0 ? 1000 / (d.tokensPerSecond ?? 1) : 0;
    const start = performance.now();
    // Every chunk is `{"id","object","created","model","choices"[,"usage"]}`; only
    // the choices and a running usage vary, so the rest is serialised once.
    const head = `{"id":${JSON.stringify(c.id)},"object":"chat.completion.chunk","created":${JSON.stringify(c.created)},"model":${JSON.stringify(c.model)},"choices":`;
    const every = usageMode === "every";
    const tail = includeUsage && usageMode === "final" ? `,"usage":null}` : "}";
    let seq = 1;
    let out = frame(`${head}${ROLE_CHOICES}${every ? usageTail(c, 0) : tail}`, noisy, seq);
    let i = 0;
    const step = (): void => {
      for (;;) {
        if (reachedFault(d.stallAfter, i, c)) {
          this.#write(exchange, out, noisy);
          return;
        }
        if (reachedFault(d.dropAfter, i, c)) {
          this.#write(exchange, out, noisy, () => this.#cut(exchange));
          return;
        }
        if (reachedFault(d.errorAfter, i, c)) {
          const error = errorBody(500, "nested", d.message ?? "simulated error during generation");
          out += frame(JSON.stringify(error), noisy, ++seq) + frame("[DONE]", noisy, ++seq);
          this.#write(exchange, out, noisy, undefined, true);
          return;
        }
        if (d.malformed === true && reachedFault(1, i, c)) {
          out += `data: {"id":"${c.id}","choices":[{"delta":{"content":"bro\n\n`;
          this.#write(exchange, out, noisy, undefined, true);
          return;
        }
        if (i === c.pieces.length) break;
        const due = start + ttft + i * interval;
        const wait = due - performance.now();
        if (wait > 0) {
          this.#write(exchange, out, noisy);
          out = "";
          this.#after(exchange, wait, step);
          return;
        }
        const choices = `[{"index":0,"delta":{"content":${JSON.stringify(c.pieces[i])}},"logprobs":null,"finish_reason":null}]`;
        i++;
        out += frame(`${head}${choices}${every ? usageTail(c, i) : tail}`, noisy, ++seq);
      }
      const finish = `[{"index":0,"delta":{},"logprobs":null,"finish_reason":${JSON.stringify(c.finishReason)}}]`;
      out += frame(`${head}${finish}${every ? usageTail(c, c.pieces.length) : tail}`, noisy, ++seq);
      if (includeUsage && usageMode === "final") {
        out += frame(`${head}[]${usageTail(c, c.pieces.length)}`, noisy, ++seq);
      }
      out += frame("[DONE]", noisy, ++seq);
      this.#write(exchange, out, noisy, undefined, true);
    };
    step();
  }

  /**
   * Writes `text`, a few bytes per write when noisy so the client sees events
   * split anywhere; `end` finishes the response, `then` runs once it is flushed.
   */
  #write(exchange: Exchange, text: string, noisy: boolean, then?: () => void, end = false): void {
    const { res } = exchange;
    if (res.destroyed) return;
    if (end && !noisy) {
      res.end(text, then);
      return;
    }
    const pieces: (string | Buffer)[] = [];
    if (noisy) {
      const bytes = Buffer.from(text);
      for (let at = 0; at < bytes.length; at += 7) pieces.push(bytes.subarray(at, at + 7));
    } else if (text !== "") {
      pieces.push(text);
    }
    const last = end ? undefined : pieces.pop();
    for (const piece of pieces) res.write(piece);
    if (end) res.end(then);
    else if (last !== undefined) res.write(last, then);
    else then?.();
  }

  #cut(exchange: Exchange): void {
    exchange.cut = true;
    exchange.res.socket?.destroy();
  }

  #after(exchange: Exchange, ms: number, run: () => void): void {
    if (ms <= 0) {
      run();
      return;
    }
    this.#timers++;
    exchange.timer = setTimeout(() => {
      exchange.timer = undefined;
      this.#timers--;
      if (!exchange.res.destroyed) run();
    }, ms);
  }

  #clearTimer(exchange: Exchange): void {
    if (exchange.timer === undefined) return;
    clearTimeout(exchange.timer);
    exchange.timer = undefined;
    this.#timers--;
  }
}

interface ChatRequestIn {
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | undefined;
  seed: number | undefined;
  stop: string[];
}

/** Validates the parts of a chat request the simulator uses; a string is the 400 message. */
function readChatRequest(body: unknown): ChatRequestIn | string {
  if (!isRecord(body)) return "the request body must be a JSON object";
  if (typeof body.model !== "string" || body.model === "") return "'model' is a required property";
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return "'messages' must be a non-empty array";
  }
  const messages: { role: string; content: string }[] = [];
  for (const message of body.messages) {
    if (!isRecord(message) || typeof message.role !== "string") return "each message needs a role";
    messages.push({ role: message.role, content: contentText(message.content) });
  }
  const maxTokens = body.max_tokens;
  if (
    maxTokens !== undefined &&
    (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1)
  ) {
    return "'max_tokens' must be a positive integer";
  }
  const stop = body.stop;
  const stops =
    typeof stop === "string"
      ? [stop]
      : Array.isArray(stop)
        ? stop.filter((s) => typeof s === "string")
        : [];
  const options = body.stream_options;
  return {
    model: body.model,
    messages,
    stream: body.stream === true,
    includeUsage: isRecord(options) && options.include_usage === true,
    maxTokens,
    seed: typeof body.seed === "number" && Number.isInteger(body.seed) ? body.seed : undefined,
    stop: stops,
  };
}

/** Message content as text: a string, or the text parts of OpenAI's content-part array. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (isRecord(part) && typeof part.text === "string" ? part.text : ""))
    .join("");
}

/** The `choices` of a stream's first chunk, which announces the role. */
const ROLE_CHOICES =
  '[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]';

/** Frozen: one object for every stream, which node:http only reads. */
const SSE_HEADERS: OutgoingHttpHeaders = Object.freeze({
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
});

/** Whether a `…_after=N` fault strikes now, `sent` tokens into the stream (at the latest after the last). */
function reachedFault(n: number | undefined, sent: number, c: Completion): boolean {
  return n !== undefined && (sent >= n || sent === c.pieces.length);
}

/** The end of a chunk that carries usage: `,"usage":{…}}`. */
function usageTail(c: Completion, completionTokens: number): string {
  return `,"usage":${JSON.stringify(usage(c, completionTokens))}}`;
}

function usage(c: Completion, completionTokens: number) {
  return {
    prompt_tokens: c.promptTokens,
    completion_tokens: completionTokens,
    total_tokens: c.promptTokens + completionTokens,
  };
}

/** One SSE event; noisy framing exercises everything a robust client must handle. */
function frame(data: string, noisy: boolean, seq: number): string {
  if (!noisy) return `data: ${data}\n\n`;
  const cut = data.indexOf(',"');
  const lines = cut === -1 ? [data] : [data.slice(0, cut), data.slice(cut)];
  return `: keep-alive ${seq}\r\nevent: message\r\nid: ${seq}\r\n${lines.map((l, n) => (n === 0 ? `data:${l}` : `data: ${l}`)).join("\r\n")}\r\n\r\n`;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const json = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

/** An error answer in the chosen shape, with the retry hints asked for. */
function sendError(
  res: ServerResponse,
  status: number,
  d: Pick<SimulatorDirectives, "errorShape" | "message" | "retryAfterS" | "retryAfterMs"> & {
    code?: string;
  },
): void {
  if (res.headersSent || res.destroyed) return;
  const shape = d.errorShape ?? "nested";
  const message = d.message ?? `simulated ${status} ${STATUS_CODES[status] ?? "error"}`;
  const headers: OutgoingHttpHeaders = {};
  if (d.retryAfterS !== undefined) headers["retry-after"] = String(d.retryAfterS);
  if (d.retryAfterMs !== undefined) headers["retry-after-ms"] = String(d.retryAfterMs);
  const reason = STATUS_CODES[status] ?? "Error";
  let type = "application/json";
  let text: string;
  switch (shape) {
    case "html":
      type = "text/html";
      text = `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n${"<!-- padding -->\r\n".repeat(200)}</body>\r\n</html>\r\n`;
      break;
    case "text":
      type = "text/plain";
      text = message;
      break;
    case "empty":
      text = "";
      break;
    case "problem":
      type = "application/problem+json";
      text = JSON.stringify(errorBody(status, shape, message));
      break;
    default:
      text = JSON.stringify(errorBody(status, shape, message, d.code));
  }
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function errorBody(status: number, shape: ErrorShape, message: string, code?: string): unknown {
  switch (shape) {
    case "flat":
      return {
        object: "error",
        message,
        type: STATUS_CODES[status]?.replace(/\s/g, "") ?? "Error",
        param: null,
        code: status,
      };
    case "problem":
      return {
        type: "about:blank",
        status,
        title: STATUS_CODES[status] ?? "Error",
        detail: message,
      };
    case "string":
      return { error: message };
    case "detail":
      return { detail: message };
    case "validation":
      return {
        detail: [{ type: "value_error", loc: ["body", "messages"], msg: message, input: null }],
      };
    default:
      return {
        error: {
          message,
          type:
            status === 429
              ? "rate_limit_error"
              : status >= 500
                ? "server_error"
                : "invalid_request_error",
          param: null,
          code: code ?? (status >= 500 ? status : null),
        },
      };
  }
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}
