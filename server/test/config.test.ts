import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError)
      return error.problems.map((p) => `${p.variable}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("loadConfig", () => {
  it("gives the embedded defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      role: "all",
      host: "127.0.0.1",
      port: 8080,
      databaseUrl: undefined,
      pgliteDir: ".data/pglite",
      redisUrl: undefined,
      queuePrefix: "promptline",
      nim: undefined,
      simulator: { mode: "embedded" },
      workerConcurrency: 16,
    });
  });

  it("turns NIM on with a key and the simulator off", () => {
    const config = loadConfig({ NVIDIA_API_KEY: "nvapi-secret" });
    expect(config.nim).toEqual({
      baseUrl: "https://integrate.api.nvidia.com/v1",
      apiKey: "nvapi-secret",
    });
    expect(config.simulator).toBeUndefined();
  });

  it("turns NIM on without a key for a self-hosted base URL", () => {
    const config = loadConfig({ LLM_BASE_URL: "http://nim.internal:8000/v1" });
    expect(config.nim).toEqual({ baseUrl: "http://nim.internal:8000/v1", apiKey: undefined });
  });

  it("names every bad variable at once", () => {
    expect(
      problems({
        PORT: "eighty",
        DATABASE_URL: "mysql://x",
        REDIS_URL: "localhost:6379",
        WORKER_CONCURRENCY: "0",
        LOG_LEVEL: "loud",
        PROMPTLINE_ROLE: "both",
        QUEUE_PREFIX: "has space",
      }),
    ).toEqual([
      "PROMPTLINE_ROLE: must be one of all, api, worker",
      "PORT: must be a whole number from 0 to 65535",
      "DATABASE_URL: must be a URL like postgres://user@host:5432/db",
      "REDIS_URL: must be a URL like redis://127.0.0.1:6379",
      "QUEUE_PREFIX: must be 1-64 letters, digits, '_', '.' or '-'",
      "WORKER_CONCURRENCY: must be a whole number from 1 to 1000",
      "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent",
    ]);
  });

  it("refuses a simulator URL with the simulator switched off", () => {
    expect(problems({ SIMULATOR: "off", SIMULATOR_URL: "http://127.0.0.1:4010/v1" })).toEqual([
      "SIMULATOR_URL: is set but SIMULATOR=off",
    ]);
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", NVIDIA_API_KEY: "", PORT: "" })).toMatchObject({
      databaseUrl: undefined,
      nim: undefined,
      port: 8080,
    });
  });

  it("turns retention on with RETENTION_DAYS from 1 to 3650, off when unset", () => {
    expect(loadConfig({}).retentionDays).toBeUndefined();
    expect(loadConfig({ RETENTION_DAYS: "" }).retentionDays).toBeUndefined();
    expect(loadConfig({ RETENTION_DAYS: "30" }).retentionDays).toBe(30);
    expect(loadConfig({ RETENTION_DAYS: "3650" }).retentionDays).toBe(3650);
    for (const bad of ["0", "3651", "-5", "1.5", "thirty"]) {
      expect(problems({ RETENTION_DAYS: bad })).toEqual([
        "RETENTION_DAYS: must be a whole number from 1 to 3650",
      ]);
    }
  });

  it("reads PROVIDER_LIMITS per provider, unlimited when unset", () => {
    expect(loadConfig({}).providerLimits).toEqual({});
    expect(loadConfig({ PROVIDER_LIMITS: " " }).providerLimits).toEqual({});
    expect(
      loadConfig({
        PROVIDER_LIMITS: "nim:concurrency=8,rpm=600,tpm=200000; simulator: concurrency = 64 ;",
      }).providerLimits,
    ).toEqual({
      nim: { maxConcurrency: 8, requestsPerMinute: 600, tokensPerMinute: 200_000 },
      simulator: { maxConcurrency: 64 },
    });
  });

  it.each([
    ["ollama:rpm=2", '"ollama:rpm=2": unknown provider "ollama" (one of nim, simulator)'],
    ["nim:conc=8", '"nim:conc=8": unknown limit "conc" (one of concurrency, rpm, tpm)'],
    ["nim:rpm=0", '"nim:rpm=0": rpm must be a whole number above 0'],
    ["nim:tpm=-5", '"nim:tpm=-5": tpm must be a whole number above 0'],
    ["nim:concurrency=1.5", '"nim:concurrency=1.5": concurrency must be a whole number above 0'],
    ["nim:rpm", '"nim:rpm": rpm must be a whole number above 0'],
    ["nim:rpm=5,rpm=6", '"nim:rpm=5,rpm=6": rpm is given twice'],
    ["nim", '"nim": give limits, e.g. nim:concurrency=8'],
    ["nim:rpm=5;nim:tpm=9", '"nim:tpm=9": nim is given twice'],
  ])("refuses PROVIDER_LIMITS=%j naming the offending part", (value, message) => {
    expect(problems({ PROVIDER_LIMITS: value })).toEqual([`PROVIDER_LIMITS: ${message}`]);
  });

  it("reports every bad PROVIDER_LIMITS part at once", () => {
    expect(problems({ PROVIDER_LIMITS: "nim:rpm=0;simulator:concurrency=4;vllm:rpm=1" })).toEqual([
      'PROVIDER_LIMITS: "nim:rpm=0": rpm must be a whole number above 0',
      'PROVIDER_LIMITS: "vllm:rpm=1": unknown provider "vllm" (one of nim, simulator)',
    ]);
  });
});
