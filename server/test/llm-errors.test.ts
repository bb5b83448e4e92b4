import { describe, expect, it } from "vitest";
import {
  codeForStatus,
  errorFromPayload,
  errorFromResponse,
  MAX_MESSAGE_LENGTH,
  ProviderError,
  parseErrorBody,
  parseRetryAfter,
  RETRYABLE,
} from "../src/llm/errors.js";
import { retryDelayMs } from "../src/llm/retry.js";

const noHeaders = new Headers();

describe("parseErrorBody", () => {
  it.each([
    [
      "OpenAI nested",
      { error: { message: "bad temperature", type: "invalid_request_error", code: "x" } },
      "bad temperature",
    ],
    [
      "vLLM flat",
      { object: "error", message: "max_tokens too large", type: "BadRequestError", code: 400 },
      "max_tokens too large",
    ],
    [
      "NIM problem+json",
      { type: "about:blank", status: 404, title: "Not Found", detail: "Function 'abc': Not found" },
      "Function 'abc': Not found",
    ],
    [
      "problem+json without detail",
      { status: 500, title: "Internal Server Error" },
      "Internal Server Error",
    ],
    [
      "Ollama string",
      { error: 'model "llama9" not found, try pulling it first' },
      'model "llama9" not found, try pulling it first',
    ],
    ["FastAPI detail", { detail: "Not Found" }, "Not Found"],
    [
      "FastAPI validation",
      {
        detail: [
          { loc: ["body", "temperature"], msg: "Input should be less than 2", type: "x" },
          { loc: ["body", "messages", 0, "role"], msg: "Field required" },
        ],
      },
      "body.temperature: Input should be less than 2; body.messages.0.role: Field required",
    ],
    [
      "nested without message falls back",
      { error: { message: "", type: "server_error" } },
      undefined,
    ],
  ])("%s", (_name, body, message) => {
    expect(parseErrorBody(JSON.stringify(body)).message).toBe(message);
  });

  it("keeps the kind and the status carried in the body", () => {
    const nested = parseErrorBody(
      JSON.stringify({ error: { message: "m", code: "model_not_found" } }),
    );
    expect(nested.kind).toBe("model_not_found");
    const flat = parseErrorBody(JSON.stringify({ object: "error", message: "m", code: 503 }));
    expect(flat.status).toBe(503);
  });

  it("uses plain text, trimmed and capped", () => {
    expect(parseErrorBody("  upstream connect error  \n").message).toBe("upstream connect error");
    const long = parseErrorBody("x".repeat(5000)).message ?? "";
    expect(long.length).toBe(MAX_MESSAGE_LENGTH);
    expect(long.endsWith("…")).toBe(true);
  });

  it("gives no message for HTML and empty bodies", () => {
    expect(
      parseErrorBody("<html><head><title>502</title></head><body>…</body></html>").message,
    ).toBeUndefined();
    expect(parseErrorBody("<!DOCTYPE html>\n<html>").message).toBeUndefined();
    expect(parseErrorBody("").message).toBeUndefined();
    expect(parseErrorBody("   \n").message).toBeUndefined();
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");

  it("reads seconds, fractional seconds and HTTP dates", () => {
    expect(parseRetryAfter(new Headers({ "retry-after": "2" }), now)).toBe(2000);
    expect(parseRetryAfter(new Headers({ "retry-after": "0.5" }), now)).toBe(500);
    expect(
      parseRetryAfter(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:30 GMT" }), now),
    ).toBe(30_000);
    expect(
      parseRetryAfter(new Headers({ "retry-after": "Tue, 31 Dec 2024 23:00:00 GMT" }), now),
    ).toBe(0);
  });

  it("prefers retry-after-ms and ignores garbage", () => {
    expect(
      parseRetryAfter(new Headers({ "retry-after": "5", "retry-after-ms": "1250" }), now),
    ).toBe(1250);
    expect(parseRetryAfter(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers({ "retry-after-ms": "-1", "retry-after": "1" }), now)).toBe(
      1000,
    );
    expect(parseRetryAfter(noHeaders, now)).toBeUndefined();
  });
});

describe("classification", () => {
  it.each([
    [400, "PROVIDER_BAD_REQUEST", false],
    [401, "PROVIDER_UNAUTHORIZED", false],
    [402, "PROVIDER_PAYMENT_REQUIRED", false],
    [403, "PROVIDER_FORBIDDEN", false],
    [404, "PROVIDER_NOT_FOUND", false],
    [408, "PROVIDER_TIMEOUT", true],
    [409, "PROVIDER_CONFLICT", true],
    [413, "PROVIDER_BAD_REQUEST", false],
    [422, "PROVIDER_UNPROCESSABLE", false],
    [429, "PROVIDER_RATE_LIMITED", true],
    [500, "PROVIDER_SERVER_ERROR", true],
    [502, "PROVIDER_UNAVAILABLE", true],
    [503, "PROVIDER_UNAVAILABLE", true],
    [504, "PROVIDER_TIMEOUT", true],
    [507, "PROVIDER_SERVER_ERROR", true],
  ] as const)("%i → %s (retryable %s)", (status, code, retryable) => {
    expect(codeForStatus(status)).toBe(code);
    expect(RETRYABLE[code]).toBe(retryable);
  });

  it("calls a 404 about the model MODEL_NOT_FOUND, any other 404 PROVIDER_NOT_FOUND", () => {
    const modelGone = errorFromResponse({
      provider: "vllm",
      status: 404,
      statusText: "Not Found",
      headers: noHeaders,
      body: JSON.stringify({
        object: "error",
        message: "The model `x` does not exist.",
        code: 404,
      }),
    });
    expect(modelGone.code).toBe("MODEL_NOT_FOUND");
    const byCode = errorFromResponse({
      provider: "openai",
      status: 404,
      statusText: "",
      headers: noHeaders,
      body: JSON.stringify({ error: { message: "gone", code: "model_not_found" } }),
    });
    expect(byCode.code).toBe("MODEL_NOT_FOUND");
    const wrongPath = errorFromResponse({
      provider: "vllm",
      status: 404,
      statusText: "Not Found",
      headers: noHeaders,
      body: JSON.stringify({ detail: "Not Found" }),
    });
    expect(wrongPath.code).toBe("PROVIDER_NOT_FOUND");
  });

  it("falls back to the status line, with Node's reason phrase when the server sent none", () => {
    const error = errorFromResponse({
      provider: "nim",
      status: 502,
      statusText: "",
      headers: new Headers({ "retry-after": "3" }),
      body: "<html><body>bad gateway</body></html>",
    });
    expect(error).toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      message: "502 Bad Gateway",
      httpStatus: 502,
      retryable: true,
      retryAfterMs: 3000,
      provider: "nim",
    });
  });

  it("classifies an in-stream error by the status it carries", () => {
    const bad = errorFromPayload("vllm", {
      error: { message: "too long", type: "BadRequestError", code: 400 },
    });
    expect(bad).toMatchObject({
      code: "PROVIDER_BAD_REQUEST",
      retryable: false,
      httpStatus: 400,
      message: "too long",
    });
    const unknown = errorFromPayload("x", { error: "boom" });
    expect(unknown).toMatchObject({
      code: "PROVIDER_SERVER_ERROR",
      retryable: true,
      message: "boom",
    });
  });
});

describe("retryDelayMs", () => {
  const error = (code: "PROVIDER_RATE_LIMITED" | "PROVIDER_BAD_REQUEST", retryAfterMs?: number) =>
    new ProviderError({ code, message: "m", provider: "p", retryAfterMs });

  it("backs off exponentially with full jitter, capped", () => {
    const top = { random: () => 0.999_999, baseMs: 1000, maxMs: 10_000 };
    expect(retryDelayMs(error("PROVIDER_RATE_LIMITED"), 1, top)).toBe(999);
    expect(retryDelayMs(error("PROVIDER_RATE_LIMITED"), 3, top)).toBe(3999);
    expect(retryDelayMs(error("PROVIDER_RATE_LIMITED"), 10, top)).toBe(9999);
    expect(retryDelayMs(error("PROVIDER_RATE_LIMITED"), 3, { random: () => 0 })).toBe(0);
  });

  it("never retries sooner than Retry-After, within reason", () => {
    expect(retryDelayMs(error("PROVIDER_RATE_LIMITED", 5000), 1, { random: () => 0 })).toBe(5000);
    expect(
      retryDelayMs(error("PROVIDER_RATE_LIMITED", 3_600_000), 1, {
        random: () => 0,
        maxRetryAfterMs: 60_000,
      }),
    ).toBe(60_000);
  });

  it("gives undefined for what must not be retried", () => {
    expect(retryDelayMs(error("PROVIDER_BAD_REQUEST"), 1)).toBeUndefined();
    expect(retryDelayMs(new Error("bug"), 1)).toBeUndefined();
  });
});
