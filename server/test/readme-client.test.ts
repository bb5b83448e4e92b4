import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../src/auth/keys.js";
import { ensureUser, insertApiKey } from "../src/db/auth.js";
import { startTestApp, type TestApp } from "./harness.js";

// The README's "From another service" client, run as written against a
// server that requires keys: the documented way to call Promptline works.

const SERVER_DIR = new URL("..", import.meta.url).pathname;
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

function snippet(): string {
  const section = README.slice(README.indexOf("### From another service"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error("README: no ts snippet under 'From another service'");
  return code;
}

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp({ AUTH_MODE: "keys" });
  const user = await ensureUser(app.db, "readme-service", "member");
  const made = generateApiKey();
  await insertApiKey(app.db, {
    userId: user.id,
    name: "",
    prefix: made.prefix,
    keyHash: made.hash,
  });
  key = made.key;
});
afterAll(async () => {
  await app?.close();
});

async function runSnippet(apiKey: string): Promise<{ code: number | null; out: string }> {
  const code = snippet();
  expect(code).toContain('baseUrl: "http://127.0.0.1:8080"');
  // Under server/, where its imports resolve; removed after.
  const file = `${SERVER_DIR}.readme-client-${randomUUID()}.ts`;
  await writeFile(file, code.replace("http://127.0.0.1:8080", app.url));
  try {
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: SERVER_DIR,
      env: { ...process.env, PROMPTLINE_API_KEY: apiKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    return await new Promise((resolve) => child.once("close", (c) => resolve({ code: c, out })));
  } finally {
    await rm(file, { force: true });
  }
}

describe("README: calling Promptline from another service", () => {
  it("the documented client creates a task with its key and streams the output", async () => {
    const run = await runSnippet(key);
    expect(run.out).toBe("Echo: Summarise RFC 9110 in one line");
    expect(run.code).toBe(0);
  });

  it("with a key the server does not know, it fails Unauthenticated", async () => {
    const run = await runSnippet(generateApiKey().key);
    expect(run.out).toMatch(/\[unauthenticated\] invalid API key/);
    expect(run.code).not.toBe(0);
  });
});
