import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../src/auth/keys.js";
import { ensureUser, insertApiKey } from "../src/db/auth.js";
import { startTestApp, type TestApp } from "./harness.js";

const EXAMPLE_DIR = new URL("../../examples/grpc-js-client/", import.meta.url).pathname;

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.close();
});

/** The example as its README runs it, against the test app. */
function runExample(
  prompt: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", prompt], {
    cwd: EXAMPLE_DIR,
    env: { ...process.env, PROMPTLINE_ADDR: new URL(app.url).host, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("examples/grpc-js-client", () => {
  it("creates a task over gRPC, watches it and prints its output", async () => {
    const run = await runExample("hello from another service");
    expect(run.stderr).toMatch(/^task [0-9a-f-]{36} \(request id [0-9a-f-]{36}\)\n$/);
    expect(run.stdout).toBe("Echo: hello from another service\n");
    expect(run.code).toBe(0);
  });

  it("shows a refused call's gRPC status and message, and exits 1", async () => {
    const run = await runExample("x", { PROMPTLINE_MODEL: "nosuchprovider-model" });
    expect(run.stderr).toMatch(/^call failed: INVALID_ARGUMENT: model: /);
    expect(run.code).toBe(1);
  });
});

describe("examples/grpc-js-client with AUTH_MODE=keys", () => {
  it("sends PROMPTLINE_API_KEY as a Bearer token; without one the call is UNAUTHENTICATED", async () => {
    const keysApp = await startTestApp({ AUTH_MODE: "keys" });
    try {
      const user = await ensureUser(keysApp.db, "example-service", "member");
      const key = generateApiKey();
      await insertApiKey(keysApp.db, {
        userId: user.id,
        name: "grpc-js example",
        prefix: key.prefix,
        keyHash: key.hash,
      });
      const addr = new URL(keysApp.url).host;
      const refused = await runExample("hi", { PROMPTLINE_ADDR: addr, PROMPTLINE_API_KEY: "" });
      expect(refused.stderr).toMatch(/^call failed: UNAUTHENTICATED: missing API key/);
      expect(refused.code).toBe(1);
      const run = await runExample("with a key", {
        PROMPTLINE_ADDR: addr,
        PROMPTLINE_API_KEY: key.key,
      });
      expect(run.stdout).toBe("Echo: with a key\n");
      expect(run.code).toBe(0);
    } finally {
      await keysApp.close();
    }
  });
});
