import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProviderError } from "../src/llm/errors.js";
import {
  type ChatOptions,
  type ChatRequest,
  createOpenAiClient,
  DEFAULT_COMPLETION_ESTIMATE,
  estimateTokens,
  type OpenAiClient,
} from "../src/llm/openai-client.js";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";

let sim: Simulator;
let client: OpenAiClient;

beforeAll(async () => {
  sim = await startSimulator();
  client = createOpenAiClient({
    name: "simulator",
    baseUrl: sim.url,
    timeouts: { headersMs: 10_000, firstTokenMs: 10_000, idleMs: 10_000, responseMs: 10_000 },
  });
});

afterAll(async () => {
  await sim?.close();
});

let ids = 0;
/** A request id unique to this test run, to find the request in the simulator's history. */
const requestId = () => `req-${process.pid}-${++ids}`;

function ask(prompt: string, model = "echo"): ChatRequest {
  return { model, messages: [{ role: "user", content: prompt }] };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error("expected the call to fail with a ProviderError");
}

function sent(id: string) {
  const request = sim.stats().recent.find((r) => r.headers["x-request-id"] === id);
  if (request === undefined) throw new Error(`the simulator saw no request ${id}`);
  return request;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return `http://127.0.0.1:${address.port}/v1`;
}

describe("chat", () => {
  it.each([false, true])("answers the echo model (stream %s) with usage", async (stream) => {
    const deltas: string[] = [];
    const answer = await client.chat(ask("Hello,  wide\nworld 🌍"), {
      stream,
      onDelta: (d) => deltas.push(d),
    });
    expect(answer).toMatchObject({
      content: "Echo: Hello,  wide\nworld 🌍",
      responseModel: "echo",
      finishReason: "stop",
      usage: { promptTokens: 4, completionTokens: 5, totalTokens: 9 },
    });
    expect(deltas.join("")).toBe(answer.content);
    expect(deltas).toHaveLength(stream ? 5 : 1);
    expect(answer.latencyMs).toBeGreaterThan(0);
    if (stream) expect(answer.ttftMs).toBeGreaterThan(0);
    else expect(answer.ttftMs).toBeUndefined();
  });

  it("streams as tokens come, measuring time to first token", async () => {
    const answer = await client.chat(ask("[[sim ttft=60 tps=200 tokens=10]]", "lorem"), {
      stream: true,
    });
    expect(answer.content).toBe("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do");
    expect(answer.ttftMs).toBeGreaterThanOrEqual(50);
    expect(answer.latencyMs).toBeGreaterThan(answer.ttftMs ?? 0);
  });

  it("takes the last usage report rather than summing running totals", async () => {
    const answer = await client.chat(ask("a b c [[sim usage=every]]"), { stream: true });
    expect(answer.usage).toEqual({ promptTokens: 5, completionTokens: 4, totalTokens: 9 });
    const none = await client.chat(ask("a [[sim usage=none]]"), { stream: true });
    expect(none.usage).toBeUndefined();
  });

  it("reads SSE framed the hard way: comments, ids, CRLF, split data lines, tiny writes", async () => {
    const answer = await client.chat(ask("héllo wörld 🌍 [[sim noisy]]"), { stream: true });
    expect(answer.content).toBe("Echo: héllo wörld 🌍");
    expect(answer.usage?.completionTokens).toBe(4);
  });

  it("honours max_tokens and stop like a real model", async () => {
    const long = await client.chat({ ...ask("x", "lorem"), max_tokens: 3 }, { stream: true });
    expect(long).toMatchObject({ content: "Lorem ipsum dolor", finishReason: "length" });
    const stopped = await client.chat(
      { ...ask("one two three"), stop: [" three"] },
      { stream: false },
    );
    expect(stopped).toMatchObject({ content: "Echo: one two", finishReason: "stop" });
  });

  it.each([false, true])(
    "sends only the parameters set, and x-request-id (stream %s)",
    async (stream) => {
      const id = requestId();
      await client.chat({ ...ask("hi"), temperature: 0.2, seed: 7 }, { stream, requestId: id });
      const request = sent(id);
      expect(request.body).toEqual({
        model: "echo",
        messages: [{ role: "user", content: "hi" }],
        temperature: 0.2,
        seed: 7,
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      });
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers.accept).toBe(stream ? "text/event-stream" : "application/json");
    },
  );

  it("sends its API key and extra headers to its own base URL", async () => {
    const keyed = createOpenAiClient({
      name: "keyed",
      baseUrl: `${sim.url}/`,
      apiKey: "sk-test",
      headers: { "x-tenant": "t1" },
    });
    const id = requestId();
    await keyed.chat(ask("hi"), { stream: false, requestId: id });
    expect(sent(id).headers).toMatchObject({ authorization: "Bearer sk-test", "x-tenant": "t1" });
    expect(sent(id).path).toBe("/v1/chat/completions");
  });
});

describe("faults", () => {
  it.each([
    [400, "PROVIDER_BAD_REQUEST", false],
    [401, "PROVIDER_UNAUTHORIZED", false],
    [403, "PROVIDER_FORBIDDEN", false],
    [404, "PROVIDER_NOT_FOUND", false],
    [408, "PROVIDER_TIMEOUT", true],
    [409, "PROVIDER_CONFLICT", true],
    [422, "PROVIDER_UNPROCESSABLE", false],
    [429, "PROVIDER_RATE_LIMITED", true],
    [500, "PROVIDER_SERVER_ERROR", true],
    [502, "PROVIDER_UNAVAILABLE", true],
    [503, "PROVIDER_UNAVAILABLE", true],
    [504, "PROVIDER_TIMEOUT", true],
  ] as const)("status %i → %s", async (status, code, retryable) => {
    for (const stream of [false, true]) {
      const error = await failure(client.chat(ask(`[[sim status=${status}]]`), { stream }));
      expect(error).toMatchObject({ code, retryable, httpStatus: status, provider: "simulator" });
      expect(error.message).toMatch(new RegExp(`^simulated ${status} `));
    }
  });

  it("reads Retry-After and retry-after-ms", async () => {
    const seconds = await failure(
      client.chat(ask("[[sim status=429 retry_after=2]]"), { stream: true }),
    );
    expect(seconds).toMatchObject({ code: "PROVIDER_RATE_LIMITED", retryAfterMs: 2000 });
    const ms = await failure(
      client.chat(ask("[[sim status=503 retry_after_ms=1500]]"), { stream: false }),
    );
    expect(ms).toMatchObject({ code: "PROVIDER_UNAVAILABLE", retryAfterMs: 1500 });
  });

  it("calls an unknown model MODEL_NOT_FOUND with the provider's words", async () => {
    const error = await failure(client.chat(ask("hi", "gpt-9"), { stream: true }));
    expect(error).toMatchObject({
      code: "MODEL_NOT_FOUND",
      retryable: false,
      httpStatus: 404,
      message: "The model `gpt-9` does not exist or you do not have access to it.",
    });
  });

  it.each([
    ["nested", "the provider's own words"],
    ["flat", "the provider's own words"],
    ["problem", "the provider's own words"],
    ["string", "the provider's own words"],
    ["detail", "the provider's own words"],
    ["validation", "body.messages: the provider's own words"],
    ["text", "the provider's own words"],
    ["html", "422 Unprocessable Entity"],
    ["empty", "422 Unprocessable Entity"],
  ])("error_shape=%s → %j", async (shape, message) => {
    const prompt = `[[sim status=422 error_shape=${shape} message="the provider's own words"]]`;
    const error = await failure(client.chat(ask(prompt), { stream: false }));
    expect(error).toMatchObject({ code: "PROVIDER_UNPROCESSABLE", httpStatus: 422, message });
  });

  it.each([false, true])("malformed JSON → PROVIDER_BAD_RESPONSE (stream %s)", async (stream) => {
    const error = await failure(client.chat(ask("[[sim malformed]]"), { stream }));
    expect(error).toMatchObject({ code: "PROVIDER_BAD_RESPONSE", retryable: true });
  });

  it.each([false, true])(
    "a cut connection → PROVIDER_STREAM_INTERRUPTED (stream %s)",
    async (stream) => {
      const error = await failure(client.chat(ask("a b c d e f [[sim drop_after=3]]"), { stream }));
      expect(error).toMatchObject({ code: "PROVIDER_STREAM_INTERRUPTED", retryable: true });
    },
  );

  it("a reset before any answer → PROVIDER_CONNECTION", async () => {
    const error = await failure(client.chat(ask("[[sim reset]]"), { stream: true }));
    expect(error).toMatchObject({ code: "PROVIDER_CONNECTION", retryable: true });
  });

  it("nobody listening → PROVIDER_CONNECTION naming the address", async () => {
    const server = createServer();
    const url = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const down = createOpenAiClient({ name: "down", baseUrl: url });
    const error = await failure(down.chat(ask("hi"), { stream: false }));
    expect(error).toMatchObject({ code: "PROVIDER_CONNECTION", retryable: true, provider: "down" });
    expect(error.message).toContain("ECONNREFUSED");
  });

  it.each([false, true])(
    "an error event inside a 200 → classified by its code (stream %s)",
    async (stream) => {
      const prompt = '[[sim error_after=1 message="CUDA out of memory"]] a b';
      const error = await failure(client.chat(ask(prompt), { stream }));
      expect(error).toMatchObject({
        code: "PROVIDER_SERVER_ERROR",
        retryable: true,
        httpStatus: 500,
        message: "CUDA out of memory",
      });
    },
  );

  it("a warming-up model fails with 503 for its first requests, then answers", async () => {
    const prompt = `[[sim status=503 warmup=2 key=${requestId()}]] ready?`;
    for (let i = 0; i < 2; i++) {
      expect((await failure(client.chat(ask(prompt), { stream: true }))).code).toBe(
        "PROVIDER_UNAVAILABLE",
      );
    }
    expect((await client.chat(ask(prompt), { stream: true })).content).toBe("Echo: ready?");
  });

  it("does not follow redirects (the API key must not travel elsewhere)", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(307, { location: "https://elsewhere.example/v1/chat/completions" });
      res.end();
    });
    const url = await listen(server);
    try {
      const redirecting = createOpenAiClient({ name: "r", baseUrl: url, apiKey: "secret" });
      const error = await failure(redirecting.chat(ask("hi"), { stream: false }));
      expect(error).toMatchObject({
        code: "PROVIDER_REDIRECTED",
        retryable: false,
        httpStatus: 307,
      });
      expect(error.message).toContain("https://elsewhere.example/v1/chat/completions");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("cancellation and timeouts", () => {
  const fast = () =>
    createOpenAiClient({
      name: "fast",
      baseUrl: sim.url,
      timeouts: { headersMs: 150, firstTokenMs: 150, idleMs: 150, responseMs: 150 },
    });

  /** Runs `call` and waits until the simulator has seen the client leave and holds no timer. */
  async function leaves<T>(call: () => Promise<T>): Promise<T> {
    const before = sim.stats().clientAborts;
    const result = await call();
    await vi.waitFor(() => {
      expect(sim.stats().clientAborts).toBe(before + 1);
      expect(sim.stats().timers).toBe(0);
    });
    return result;
  }

  it("an abort mid-stream ends the call at once with CANCELLED", async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    const options: ChatOptions = {
      stream: true,
      signal: controller.signal,
      onDelta: () => {
        if (abortedAt === 0) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    };
    const error = await leaves(() =>
      failure(client.chat(ask("[[sim tps=5 tokens=50]]", "lorem"), options)),
    );
    expect(error).toMatchObject({ code: "CANCELLED", retryable: false });
    expect(performance.now() - abortedAt).toBeLessThan(1000);
  });

  it("an already aborted signal sends nothing", async () => {
    const before = sim.stats().requests;
    const error = await failure(
      client.chat(ask("hi"), { stream: true, signal: AbortSignal.abort() }),
    );
    expect(error.code).toBe("CANCELLED");
    expect(sim.stats().requests).toBe(before);
  });

  it("no headers in time → PROVIDER_TIMEOUT (headers)", async () => {
    const error = await leaves(() => failure(fast().chat(ask("[[sim hang]]"), { stream: true })));
    expect(error).toMatchObject({
      code: "PROVIDER_TIMEOUT",
      retryable: true,
      httpStatus: undefined,
    });
    expect(error.message).toBe("no response headers within 150 ms (headers timeout)");
  });

  it("no first token in time → PROVIDER_TIMEOUT (first-token)", async () => {
    const error = await leaves(() =>
      failure(fast().chat(ask("[[sim ttft=30000]]"), { stream: true })),
    );
    expect(error).toMatchObject({ code: "PROVIDER_TIMEOUT", retryable: true });
    expect(error.message).toContain("first-token timeout");
  });

  it("a stream that goes silent → PROVIDER_TIMEOUT (idle)", async () => {
    const error = await leaves(() =>
      failure(fast().chat(ask("a b c [[sim stall_after=2]]"), { stream: true })),
    );
    expect(error).toMatchObject({ code: "PROVIDER_TIMEOUT", retryable: true });
    expect(error.message).toContain("idle timeout");
  });

  it("a non-streaming answer that never comes → PROVIDER_TIMEOUT (response)", async () => {
    const error = await leaves(() => failure(fast().chat(ask("[[sim hang]]"), { stream: false })));
    expect(error.message).toContain("response timeout");
  });

  it("the caller's deadline (AbortSignal.timeout) → PROVIDER_TIMEOUT (overall)", async () => {
    const error = await leaves(() =>
      failure(client.chat(ask("[[sim hang]]"), { stream: true, signal: AbortSignal.timeout(100) })),
    );
    expect(error).toMatchObject({ code: "PROVIDER_TIMEOUT", retryable: true });
    expect(error.message).toContain("overall timeout");
  });
});

describe("connections", () => {
  /**
   * A provider whose answer the prompt picks, counting the connections it
   * accepts and the responses whose connection the client closed before
   * their end.
   */
  async function provider() {
    const counts = { connections: 0, open: 0, cut: 0 };
    const sse = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
    const answer = sse({
      choices: [{ index: 0, delta: { content: "hi" }, finish_reason: "stop" }],
    });
    const server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      const prompt: string = JSON.parse(body).messages[0].content;
      res.on("close", () => {
        if (!res.writableFinished) counts.cut++;
      });
      if (prompt === "error") {
        res.writeHead(429, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "slow down" } }));
      } else if (prompt === "html") {
        res.writeHead(500, { "content-type": "text/html" });
        res.end("<html>oops</html>");
      } else if (prompt === "huge") {
        res.writeHead(500, { "content-type": "text/html" });
        res.end("x".repeat(1024 * 1024));
      } else if (prompt === "redirect") {
        res.writeHead(307, {
          location: "https://elsewhere.example/v1",
          "content-type": "text/plain",
        });
        res.end("moved");
      } else if (prompt === "endless") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const timer = setInterval(
          () => res.write(sse({ choices: [{ index: 0, delta: { content: "x" } }] })),
          10,
        );
        res.on("close", () => clearInterval(timer));
      } else {
        res.writeHead(200, { "content-type": "text/event-stream" });
        // "late": the end of the body comes after [DONE], as from servers that write them separately; "open": never.
        if (prompt === "late" || prompt === "open") res.write(`${answer}data: [DONE]\n\n`);
        else res.end(`${answer}data: [DONE]\n\n`);
        if (prompt === "late") setTimeout(() => res.end(), 50);
      }
    });
    server.on("connection", (socket) => {
      counts.connections++;
      counts.open++;
      socket.on("close", () => counts.open--);
    });
    const url = await listen(server);
    return {
      counts,
      client: createOpenAiClient({ name: "p", baseUrl: url }),
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      },
    };
  }

  // Kept means: no response cut, every connection still open, at most the two a
  // pool opens for back-to-back calls (the second call can come before the
  // pool has marked the first connection free).
  it("keeps its connections after answers, error answers and a redirect", async () => {
    const p = await provider();
    try {
      for (const prompt of ["ok", "error", "ok", "html", "redirect", "ok"]) {
        const result = await p.client.chat(ask(prompt), { stream: true }).catch((e) => e);
        if (prompt === "ok") expect(result).toMatchObject({ content: "hi", finishReason: "stop" });
        else expect(result).toBeInstanceOf(ProviderError);
      }
      expect(p.counts.cut).toBe(0);
      expect(p.counts.open).toBe(p.counts.connections);
      expect(p.counts.connections).toBeLessThanOrEqual(2);
    } finally {
      await p.close();
    }
  });

  it("keeps a stream's connection when its body ends after [DONE]", async () => {
    const p = await provider();
    try {
      expect((await p.client.chat(ask("late"), { stream: true })).content).toBe("hi");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await p.client.chat(ask("ok"), { stream: true })).content).toBe("hi");
      expect(p.counts).toMatchObject({ connections: 1, cut: 0 });
    } finally {
      await p.close();
    }
  });

  it("closes the connection of a body that does not end soon after [DONE]", async () => {
    const p = await provider();
    try {
      expect((await p.client.chat(ask("open"), { stream: true })).content).toBe("hi");
      await vi.waitFor(() => expect(p.counts).toMatchObject({ open: 0, cut: 1 }), {
        timeout: 3000,
      });
    } finally {
      await p.close();
    }
  });

  it("closes the connection of a cancelled stream or a capped error body, then opens a new one", async () => {
    const p = await provider();
    try {
      const controller = new AbortController();
      const cancelled = await failure(
        p.client.chat(ask("endless"), {
          stream: true,
          signal: controller.signal,
          onDelta: () => controller.abort(),
        }),
      );
      expect(cancelled.code).toBe("CANCELLED");
      const huge = await failure(p.client.chat(ask("huge"), { stream: false }));
      expect(huge).toMatchObject({ code: "PROVIDER_SERVER_ERROR", httpStatus: 500 });
      expect((await p.client.chat(ask("ok"), { stream: true })).content).toBe("hi");
      await vi.waitFor(() => expect(p.counts).toMatchObject({ connections: 3, open: 1 }));
      expect(p.counts.cut).toBeGreaterThanOrEqual(1);
    } finally {
      await p.close();
    }
  });
});

describe("models", () => {
  it("lists models with their context length", async () => {
    expect(await client.listModels()).toEqual([
      { id: "echo", ownedBy: "promptline-simulator", contextLength: 32_768 },
      { id: "lorem", ownedBy: "promptline-simulator", contextLength: 32_768 },
    ]);
  });
});

describe("estimateTokens", () => {
  it("counts prompt characters / 4, a few tokens per message, and max_tokens", () => {
    const messages = [
      { role: "system" as const, content: "x".repeat(40) },
      { role: "user" as const, content: "y".repeat(41) },
    ];
    expect(estimateTokens({ messages, max_tokens: 100 })).toBe(21 + 8 + 100);
    expect(estimateTokens({ messages })).toBe(21 + 8 + DEFAULT_COMPLETION_ESTIMATE);
  });
});
