import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProviderError } from "../src/llm/errors.js";
import { createOpenAiClient, type OpenAiClient } from "../src/llm/openai-client.js";
import {
  countTokens,
  loremText,
  parseDirectives,
  type Simulator,
  startSimulator,
} from "../src/llm/simulator.js";

let sim: Simulator;
let client: OpenAiClient;

beforeAll(async () => {
  sim = await startSimulator();
  client = createOpenAiClient({ name: "simulator", baseUrl: sim.url });
});

afterAll(async () => {
  await sim?.close();
});

const user = (content: string) => [{ role: "user" as const, content }];

async function post(body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${sim.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe("directives", () => {
  it("parses keys, flags and quoted values, and strips the blocks", () => {
    const parsed = parseDirectives(
      'Say hi [[sim ttft=200 tps=50 tokens=20]] please [[SIM status=429 retry_after=2 message="slow down ]] now" hang]]',
    );
    expect(parsed.errors).toEqual([]);
    expect(parsed.text).toBe("Say hi  please ");
    expect(parsed.directives).toEqual({
      ttftMs: 200,
      tokensPerSecond: 50,
      tokens: 20,
      status: 429,
      retryAfterS: 2,
      message: "slow down ]] now",
      hang: true,
    });
  });

  it("reports unknown keys and bad values", () => {
    expect(
      parseDirectives("[[sim tps=fast colour=red status=200 error_shape=xml]]").errors,
    ).toEqual([
      'simulator directive tps needs a number from 0 to 1000000000, got "fast"',
      'unknown simulator directive "colour"',
      'simulator directive status needs a whole number from 400 to 599, got "200"',
      'simulator directive error_shape must be one of nested, flat, problem, string, detail, validation, html, text, empty, got "xml"',
    ]);
  });

  it("answers a bad directive with a 400 naming it", async () => {
    const { status, json } = await post({ model: "echo", messages: user("[[sim colour=red]]") });
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: { message: 'unknown simulator directive "colour"' } });
  });
});

describe("models", () => {
  it("echo answers `Echo: <last user message without directives, trimmed>`", async () => {
    const messages = [
      { role: "system" as const, content: "be brief [[sim tps=0]]" },
      { role: "user" as const, content: "first" },
      { role: "assistant" as const, content: "Echo: first" },
      { role: "user" as const, content: "  [[sim ttft=0]] second\tline  " },
    ];
    const answer = await client.chat({ model: "echo", messages }, { stream: false });
    expect(answer.content).toBe("Echo: second\tline");
    expect(answer.usage).toEqual({
      promptTokens: countTokens(messages.map((m) => m.content).join(" ")),
      completionTokens: 3,
      totalTokens: countTokens(messages.map((m) => m.content).join(" ")) + 3,
    });
    expect(
      (await client.chat({ model: "echo", messages: user("[[sim]]") }, { stream: true })).content,
    ).toBe("Echo:");
  });

  it("lorem is deterministic for a length and a seed", async () => {
    const a = await client.chat(
      { model: "lorem", messages: user("[[sim tokens=12]]"), seed: 3 },
      { stream: true },
    );
    expect(a.content).toBe(loremText(12, 3));
    expect(a.content.startsWith("sit amet, consectetur")).toBe(true);
    expect(a.usage?.completionTokens).toBe(12);
    expect(a.finishReason).toBe("stop");
    const byMax = await client.chat(
      { model: "lorem", messages: user("x"), max_tokens: 7 },
      { stream: false },
    );
    expect(byMax).toMatchObject({ content: loremText(7), finishReason: "length" });
    expect(countTokens(loremText(200))).toBe(200);
  });

  it("answers an unknown model with 404 in OpenAI's nested shape", async () => {
    const { status, json } = await post({ model: "gpt-9", messages: user("hi") });
    expect(status).toBe(404);
    expect(json).toEqual({
      error: {
        message: "The model `gpt-9` does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: null,
        code: "model_not_found",
      },
    });
  });

  it("applies start-up defaults under the prompt's directives", async () => {
    const tuned = await startSimulator({ defaults: { tokens: 5, status: 503 } });
    try {
      const c = createOpenAiClient({ name: "tuned", baseUrl: tuned.url });
      const error = await c
        .chat({ model: "lorem", messages: user("x") }, { stream: true })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE", httpStatus: 503 });
      const overridden = await c
        .chat({ model: "lorem", messages: user("[[sim status=429]]") }, { stream: true })
        .catch((e: unknown) => e);
      expect(overridden).toMatchObject({ code: "PROVIDER_RATE_LIMITED", httpStatus: 429 });
    } finally {
      await tuned.close();
    }
    const paced = await startSimulator({ defaults: { tokens: 5 } });
    try {
      const c = createOpenAiClient({ name: "paced", baseUrl: paced.url });
      expect(
        (await c.chat({ model: "lorem", messages: user("x") }, { stream: true })).content,
      ).toBe(loremText(5));
      const two = await c.chat(
        { model: "lorem", messages: user("[[sim tokens=2]]") },
        { stream: true },
      );
      expect(two.content).toBe(loremText(2));
    } finally {
      await paced.close();
    }
  });
});

describe("serving", () => {
  it("handles thousands of concurrent requests", async () => {
    const calls = Array.from({ length: 2000 }, (_, i) =>
      client.chat({ model: "echo", messages: user(`n${i}`) }, { stream: i % 2 === 0 }),
    );
    const answers = await Promise.all(calls);
    answers.forEach((a, i) => {
      expect(a.content).toBe(`Echo: n${i}`);
    });
    await vi.waitFor(() => expect(sim.stats()).toMatchObject({ active: 0, timers: 0 }));
  });

  it("keeps a bounded history of requests", async () => {
    const small = await startSimulator({ historySize: 3 });
    try {
      const c = createOpenAiClient({ name: "h", baseUrl: small.url });
      for (const n of [1, 2, 3, 4])
        await c.chat({ model: "echo", messages: user(`m${n}`) }, { stream: false });
      await c.listModels();
      const { recent, requests } = small.stats();
      expect(requests).toBe(5);
      expect(recent.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /v1/chat/completions",
        "POST /v1/chat/completions",
        "GET /v1/models",
      ]);
      expect(recent[0]?.body).toMatchObject({ messages: [{ content: "m3" }] });
    } finally {
      await small.close();
    }
  });

  it("closes promptly with hanging and paced streams open, leaving no timer", async () => {
    const busy = await startSimulator();
    const c = createOpenAiClient({ name: "busy", baseUrl: busy.url });
    const prompts = [
      "[[sim stall_after=1]] a b",
      "[[sim hang]]",
      "[[sim ttft=60000]]",
      "[[sim tps=1 tokens=100]]",
    ];
    const calls = Array.from({ length: 40 }, (_, i) =>
      c
        .chat(
          { model: "lorem", messages: user(prompts[i % prompts.length] ?? "") },
          { stream: i % 3 !== 0 },
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        ),
    );
    await vi.waitFor(() => expect(busy.stats().active).toBe(40));
    expect(busy.stats().timers).toBeGreaterThan(0);
    await busy.close();
    expect(busy.stats().timers).toBe(0);
    for (const outcome of await Promise.all(calls)) {
      expect(outcome).toBeInstanceOf(ProviderError);
    }
  });
});
