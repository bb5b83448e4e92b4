import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Permit, PermitResult } from "../src/llm/limiter.js";
import {
  createProviderRegistry,
  NIM_BASE_URL,
  ProviderConfigError,
  type ProviderRegistry,
  UnknownModelError,
} from "../src/llm/providers.js";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";

let sim: Simulator;
let other: Simulator;
let nimLike: Server;
let nimLikeUrl: string;
let hanging: Server;
let hangingUrl: string;
let refusedUrl: string;
let nimListings = 0;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return `http://127.0.0.1:${address.port}/v1`;
}

beforeAll(async () => {
  sim = await startSimulator();
  other = await startSimulator();
  // A NIM-shaped endpoint: slashed model ids, context_length instead of vLLM's max_model_len.
  nimLike = createServer((_req, res) => {
    nimListings++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        object: "list",
        data: [
          {
            id: "meta/llama-3.1-8b-instruct",
            object: "model",
            owned_by: "meta",
            context_length: 131_072,
          },
          { id: "ollama/clash", object: "model", owned_by: "someone" },
          { id: "flat-id", object: "model" },
        ],
      }),
    );
  });
  nimLikeUrl = await listen(nimLike);
  hanging = createServer(() => {});
  hangingUrl = await listen(hanging);
  const closed = createServer();
  refusedUrl = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
});

afterAll(async () => {
  hanging?.closeAllConnections();
  await Promise.all([
    sim?.close(),
    other?.close(),
    new Promise((resolve) => nimLike?.close(resolve)),
    new Promise((resolve) => hanging?.close(resolve)),
  ]);
});

function registry(): ProviderRegistry {
  return createProviderRegistry({
    providers: [
      { name: "nim", baseUrl: nimLikeUrl, apiKey: "nvapi-secret", simulated: false },
      { name: "simulator", baseUrl: sim.url, simulated: true },
      { name: "ollama", baseUrl: other.url, simulated: false },
    ],
  });
}

function unknown(providers: ProviderRegistry, modelId: string): UnknownModelError {
  try {
    providers.resolve(modelId);
  } catch (error) {
    if (error instanceof UnknownModelError) return error;
    throw error;
  }
  throw new Error(`${modelId} resolved`);
}

describe("resolve", () => {
  it.each([
    ["simulator/echo", "simulator", "echo"],
    ["ollama/llama3.2:3b", "ollama", "llama3.2:3b"],
    ["meta/llama-3.1-8b-instruct", "nim", "meta/llama-3.1-8b-instruct"],
    ["nim/meta/llama-3.1-8b-instruct", "nim", "meta/llama-3.1-8b-instruct"],
    ["nvidia/llama-3.1-nemotron-70b-instruct", "nim", "nvidia/llama-3.1-nemotron-70b-instruct"],
  ])("%s → %s / %s", (modelId, provider, upstreamModel) => {
    const resolved = registry().resolve(modelId);
    expect(resolved).toMatchObject({ modelId, upstreamModel, provider: { name: provider } });
    expect(resolved.client.name).toBe(provider);
  });

  it.each(["echo", "", "simulator/", "/echo", "meta/ spaced"])(
    "rejects %j naming the model field",
    (modelId) => {
      const error = unknown(registry(), modelId);
      expect(error.field).toBe("model");
      expect(error.modelId).toBe(modelId);
    },
  );

  it("explains a bare NIM id when NIM is not configured", () => {
    const simOnly = createProviderRegistry({
      providers: [{ name: "simulator", baseUrl: sim.url, simulated: true }],
    });
    expect(unknown(simOnly, "meta/llama-3.1-8b-instruct").message).toBe(
      'no provider is named "meta" and nim is not configured for bare NIM ids like "meta/llama-3.1-8b-instruct" (providers configured: simulator)',
    );
    expect(unknown(simOnly, "echo").message).toContain(
      "use provider/model (providers configured: simulator)",
    );
  });

  it("sends each provider's key to that provider only", async () => {
    const providers = createProviderRegistry({
      providers: [
        { name: "nim", baseUrl: other.url, apiKey: "nvapi-secret", simulated: false },
        { name: "simulator", baseUrl: sim.url, simulated: true },
      ],
    });
    const ask = (modelId: string, requestId: string) => {
      const { client, upstreamModel } = providers.resolve(modelId);
      return client.chat(
        { model: upstreamModel, messages: [{ role: "user", content: "hi" }] },
        { stream: true, requestId },
      );
    };
    await ask("simulator/echo", "key-check-sim");
    await ask("nim/echo", "key-check-nim");
    const simSaw = sim.stats().recent.find((r) => r.headers["x-request-id"] === "key-check-sim");
    const nimSaw = other.stats().recent.find((r) => r.headers["x-request-id"] === "key-check-nim");
    expect(simSaw?.headers.authorization).toBeUndefined();
    expect(nimSaw?.headers.authorization).toBe("Bearer nvapi-secret");
    expect(JSON.stringify(providers.providers)).not.toContain("nvapi-secret");
  });
});

describe("configuration", () => {
  it("fills in kinds, the hosted NIM URL and the simulator's fake prices", () => {
    const providers = createProviderRegistry({
      providers: [
        { name: "nim", simulated: false },
        { name: "simulator", baseUrl: `${sim.url}//`, simulated: true },
        { name: "vllm", baseUrl: "http://gpu-box:8000/v1", simulated: false },
      ],
    });
    expect(providers.providers).toEqual([
      { name: "nim", kind: "nim", baseUrl: NIM_BASE_URL, simulated: false, pricing: {} },
      {
        name: "simulator",
        kind: "simulator",
        baseUrl: sim.url,
        simulated: true,
        pricing: {
          echo: { inputPerMTok: 0.1, outputPerMTok: 0.4 },
          lorem: { inputPerMTok: 0.2, outputPerMTok: 0.8 },
        },
      },
      {
        name: "vllm",
        kind: "openai",
        baseUrl: "http://gpu-box:8000/v1",
        simulated: false,
        pricing: {},
      },
    ]);
  });

  it.each([
    [[{ name: "a/b", baseUrl: "http://x/v1", simulated: false }], "must be letters"],
    [[{ name: "vllm", simulated: false }], "needs a base URL"],
    [[{ name: "vllm", baseUrl: "gpu-box:8000", simulated: false }], "http or https"],
    [[{ name: "vllm", baseUrl: "http://u:p@gpu-box/v1", simulated: false }], "credentials"],
    [
      [
        { name: "x", baseUrl: "http://x/v1", simulated: false },
        { name: "x", baseUrl: "http://y/v1", simulated: false },
      ],
      "configured twice",
    ],
    [
      [
        {
          name: "x",
          baseUrl: "http://x/v1",
          simulated: false,
          pricing: { m: { inputPerMTok: -1, outputPerMTok: 1 } },
        },
      ],
      "non-negative",
    ],
    [
      [{ name: "x", baseUrl: "http://x/v1", simulated: false, maxConcurrency: 0 }],
      "maxConcurrency",
    ],
    [
      [{ name: "x", baseUrl: "http://x/v1", simulated: false, tokensPerMinute: 1.5 }],
      "tokensPerMinute must be a whole number above 0",
    ],
  ])("rejects a bad configuration (%#)", (providers, message) => {
    expect(() => createProviderRegistry({ providers })).toThrow(ProviderConfigError);
    expect(() => createProviderRegistry({ providers })).toThrow(message);
  });
});

describe("costUsd", () => {
  it("prices usage per million tokens, undefined without a price", () => {
    const providers = createProviderRegistry({
      providers: [
        { name: "simulator", baseUrl: sim.url, simulated: true },
        {
          name: "nim",
          simulated: false,
          pricing: { "meta/llama-3.1-8b-instruct": { inputPerMTok: 0.3, outputPerMTok: 0.5 } },
        },
      ],
    });
    const usage = { promptTokens: 1000, completionTokens: 2000, totalTokens: 3000 };
    expect(providers.costUsd("simulator/echo", usage)).toBeCloseTo(0.0009, 12);
    expect(providers.costUsd("meta/llama-3.1-8b-instruct", usage)).toBeCloseTo(0.0013, 12);
    expect(providers.costUsd("nim/meta/llama-3.1-8b-instruct", usage)).toBeCloseTo(0.0013, 12);
    expect(providers.costUsd("mistralai/mixtral-8x7b-instruct", usage)).toBeUndefined();
    expect(providers.costUsd("nonsense", usage)).toBeUndefined();
  });
});

describe("listModels", () => {
  it("aggregates every provider's models under Promptline ids that resolve back", async () => {
    const providers = registry();
    const { models, failures } = await providers.listModels();
    expect(failures).toEqual([]);
    expect(models.map((m) => m.id)).toEqual([
      "meta/llama-3.1-8b-instruct",
      "nim/ollama/clash",
      "nim/flat-id",
      "simulator/echo",
      "simulator/lorem",
      "ollama/echo",
      "ollama/lorem",
    ]);
    expect(models[0]).toEqual({
      id: "meta/llama-3.1-8b-instruct",
      provider: "nim",
      ownedBy: "meta",
      contextLength: 131_072,
      simulated: false,
      price: undefined,
    });
    expect(models[3]).toEqual({
      id: "simulator/echo",
      provider: "simulator",
      ownedBy: "promptline-simulator",
      contextLength: 32_768,
      simulated: true,
      price: { inputPerMTok: 0.1, outputPerMTok: 0.4 },
    });
    for (const model of models) {
      const resolved = providers.resolve(model.id);
      expect(resolved.provider.name).toBe(model.provider);
    }
  });

  it("lists the others when a provider is down or hangs, and reports the failures", async () => {
    const providers = createProviderRegistry({
      providers: [
        { name: "down", baseUrl: refusedUrl, simulated: false },
        { name: "simulator", baseUrl: sim.url, simulated: true },
        { name: "stuck", baseUrl: hangingUrl, simulated: false },
      ],
      listTimeoutMs: 500,
    });
    const { models, failures } = await providers.listModels();
    expect(models.map((m) => m.id)).toEqual(["simulator/echo", "simulator/lorem"]);
    expect(failures.map((f) => [f.provider, f.error.code, f.error.retryable])).toEqual([
      ["down", "PROVIDER_CONNECTION", true],
      ["stuck", "PROVIDER_TIMEOUT", true],
    ]);
    expect(failures[1]?.error.message).toBe("no model list within 500 ms (response timeout)");
  });

  it("reuses a listing for its TTL and shares one in flight", async () => {
    const providers = registry();
    const before = nimListings;
    await Promise.all([providers.listModels(), providers.listModels()]);
    await providers.listModels();
    expect(nimListings).toBe(before + 1);
    await providers.listModels({ refresh: true });
    expect(nimListings).toBe(before + 2);
    const uncached = createProviderRegistry({
      providers: [{ name: "nim", baseUrl: nimLikeUrl, simulated: false }],
      modelsTtlMs: 0,
    });
    await uncached.listModels();
    await uncached.listModels();
    expect(nimListings).toBe(before + 4);
  });
});

describe("permits", () => {
  function limited(): ProviderRegistry {
    return createProviderRegistry({
      providers: [
        { name: "nim", baseUrl: nimLikeUrl, simulated: false, tokensPerMinute: 1_000 },
        { name: "simulator", baseUrl: sim.url, simulated: true, maxConcurrency: 1 },
        { name: "ollama", baseUrl: other.url, simulated: false },
      ],
    });
  }

  function granted(result: PermitResult): Permit {
    if ("retryInMs" in result) throw new Error(`deferred for ${result.retryInMs} ms`);
    return result;
  }

  it("defers a saturated provider's models while other providers still grant", () => {
    const providers = limited();
    const held = granted(providers.tryAcquire("simulator/echo"));
    // Every model of the provider shares its limit.
    expect(providers.tryAcquire("simulator/lorem")).toEqual({ retryInMs: expect.any(Number) });
    for (let i = 0; i < 100; i++) granted(providers.tryAcquire("ollama/llama3.2:3b"));
    granted(providers.tryAcquire("meta/llama-3.1-8b-instruct"));
    held.release();
    granted(providers.tryAcquire("simulator/lorem"));
  });

  it("counts tokens against the provider a bare NIM id resolves to", () => {
    const providers = limited();
    granted(providers.tryAcquire("meta/llama-3.1-8b-instruct", 800)).release(900);
    expect(providers.tryAcquire("nim/meta/llama-3.1-8b-instruct", 200)).toHaveProperty("retryInMs");
    granted(providers.tryAcquire("nim/meta/llama-3.1-8b-instruct", 100));
    granted(providers.tryAcquire("simulator/echo", 1_000_000));
  });

  it("pauses only the provider of the model that was rate limited", () => {
    const providers = limited();
    providers.pause("simulator/echo", 30_000);
    const deferred = providers.tryAcquire("simulator/lorem");
    expect("retryInMs" in deferred && deferred.retryInMs).toBeGreaterThan(29_000);
    granted(providers.tryAcquire("ollama/echo"));
    granted(providers.tryAcquire("meta/llama-3.1-8b-instruct"));
  });

  it("gives a model no provider serves a permit that limits nothing, and ignores its pause", () => {
    const providers = limited();
    providers.pause("nonsense", 30_000);
    granted(providers.tryAcquire("nonsense")).release(5);
    granted(providers.tryAcquire("simulator/echo"));
  });

  it("lets a permitted call through at once: the client itself never waits", async () => {
    const providers = limited();
    const permit = granted(providers.tryAcquire("simulator/echo"));
    const { client, upstreamModel } = providers.resolve("simulator/echo");
    const ask = () =>
      client.chat(
        { model: upstreamModel, messages: [{ role: "user", content: "hi" }] },
        {
          stream: false,
        },
      );
    // A second call past the limit is the caller's choice, and is not held back.
    const [a, b] = await Promise.all([ask(), ask()]);
    permit.release(a.usage?.totalTokens);
    expect([a.content, b.content]).toEqual(["Echo: hi", "Echo: hi"]);
  });
});
