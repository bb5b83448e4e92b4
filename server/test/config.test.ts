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
});
