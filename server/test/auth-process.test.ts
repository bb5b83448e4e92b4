import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService, TaskService, UserRole } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createTestDatabase, type TestDatabase } from "./db-fixture.js";
import { deleteRedisKeys, TEST_REDIS_URL, waitFor } from "./harness.js";

const SERVER_DIR = new URL("..", import.meta.url).pathname;
/** Shaped like real secrets, so both value- and shape-based scrubbing are exercised. */
const NVIDIA_KEY = `nvapi-${"Qx7".repeat(12)}`;
const DB_PASSWORD = `pw-${randomUUID()}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command of the server package (`src/cli.ts …`, `src/main.ts`), as a child process. */
function run(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: SERVER_DIR,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result: Run = { code: null, stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => {
    result.stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    result.stderr += chunk.toString();
  });
  return new Promise((resolve) =>
    child.once("close", (code) => {
      result.code = code;
      resolve(result);
    }),
  );
}

let database: TestDatabase;
let databaseUrl: string;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  // Trust authentication ignores the password, so it can be a secret to look for in logs.
  const url = new URL(database.url);
  url.password = DB_PASSWORD;
  databaseUrl = url.toString();
});
afterAll(async () => {
  await database?.drop();
});

describe("keys mode end to end: the keys CLI, a real server process, its logs", () => {
  it("creates keys with the CLI, serves them, revokes them, and never logs a secret", async () => {
    const keysEnv = { DATABASE_URL: databaseUrl };
    // The first key needs no key: the CLI works on the (fresh, unmigrated) database.
    const admin = await run("src/cli.ts", ["keys", "create", "--admin", "--name", "ci"], keysEnv);
    expect(admin.code, admin.stderr).toBe(0);
    const adminKey = admin.stdout.trim();
    expect(adminKey).toMatch(/^pl_[A-Za-z0-9_-]{43}$/);
    expect(admin.stderr).toMatch(/for admin \(admin\)\. Keep it now/);
    const member = await run("src/cli.ts", ["keys", "create", "--user", "alice"], keysEnv);
    const memberKey = member.stdout.trim();
    expect(member.stderr).toMatch(/for alice \(member\)/);
    const clash = await run(
      "src/cli.ts",
      ["keys", "create", "--user", "alice", "--admin"],
      keysEnv,
    );
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/user alice is a member/);

    const prefix = `pk-${randomUUID().slice(0, 12)}`;
    const server = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "all"], {
      cwd: SERVER_DIR,
      env: {
        ...process.env,
        AUTH_MODE: "keys",
        DATABASE_URL: databaseUrl,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PORT: "0",
        SIMULATOR: "on",
        NVIDIA_API_KEY: NVIDIA_KEY,
        LOG_LEVEL: "trace",
        LOG_FORMAT: "json",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    server.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    server.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => server.once("exit", resolve));
    try {
      const url = await waitFor(
        async () => /Promptline running at (http:\/\/[^\s"]+)/.exec(output)?.[1],
        { timeoutMs: 30_000, what: "the server to start" },
      );
      const transport = (key: string | undefined, requestId?: string) =>
        createConnectTransport({
          baseUrl: url,
          httpVersion: "1.1",
          interceptors: [
            (next) => (req) => {
              if (key !== undefined) req.header.set("authorization", `Bearer ${key}`);
              if (requestId !== undefined) req.header.set("x-request-id", requestId);
              return next(req);
            },
          ],
        });
      const who = await createClient(AuthService, transport(adminKey)).whoAmI({});
      expect(who.user).toMatchObject({ name: "admin", role: UserRole.ADMIN });

      // Secrets where code might log them: a refused key, a key as the request id,
      // an error (NotFound) with the caller's headers around.
      const tasks = createClient(TaskService, transport(memberKey, memberKey));
      await tasks.createTask({ prompt: `hello ${adminKey}`, model: "simulator/echo" });
      await expect(tasks.getTask({ id: randomUUID() })).rejects.toMatchObject({
        code: Code.NotFound,
      });
      // The admin key with its last character changed (never to itself).
      const wrongLast = adminKey.endsWith("A") ? "B" : "A";
      const refused = createClient(TaskService, transport(`${adminKey.slice(0, -1)}${wrongLast}`));
      await expect(refused.listTasks({})).rejects.toMatchObject({ code: Code.Unauthenticated });

      // The task CLI sends PROMPTLINE_API_KEY.
      const cliEnv = { PROMPTLINE_URL: url };
      const listed = await run("src/cli.ts", ["list"], {
        ...cliEnv,
        PROMPTLINE_API_KEY: memberKey,
      });
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/hello/);
      const whoami = await run("src/cli.ts", ["whoami"], {
        ...cliEnv,
        PROMPTLINE_API_KEY: memberKey,
      });
      expect(whoami.stdout).toBe(`alice (member, key ${memberKey.slice(0, 11)}…; keys mode)\n`);
      const anonymous = await run("src/cli.ts", ["list"], { ...cliEnv, PROMPTLINE_API_KEY: "" });
      expect(anonymous.code).toBe(3);
      expect(anonymous.stderr).toMatch(/unauthenticated: missing API key/);

      // Listing shows prefixes only; revoking by prefix stops the key on the server.
      const keysList = await run("src/cli.ts", ["keys", "list"], keysEnv);
      expect(keysList.stdout).toContain(`${memberKey.slice(0, 11)}…`);
      expect(keysList.stdout).not.toContain(memberKey);
      const revoked = await run("src/cli.ts", ["keys", "revoke", memberKey.slice(0, 11)], keysEnv);
      expect(revoked.code, revoked.stderr).toBe(0);
      // Within the key cache's period (5 s) on every process.
      await waitFor(
        async () => {
          const error = await tasks.listTasks({}).then(
            () => undefined,
            (e: unknown) => ConnectError.from(e),
          );
          return error?.code === Code.Unauthenticated ? error : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: "the revoked key to be refused" },
      );
    } finally {
      server.kill("SIGTERM");
      await exited;
      await deleteRedisKeys(prefix);
    }
    expect(output).toMatch(/"user":"alice"/);
    for (const secret of [adminKey, memberKey, NVIDIA_KEY, DB_PASSWORD]) {
      expect(output).not.toContain(secret);
    }
  }, 90_000);
});

describe("local mode", () => {
  it("is refused at start on a non-loopback HOST, naming the variable", async () => {
    const result = await run("src/main.ts", ["api"], {
      HOST: "0.0.0.0",
      AUTH_MODE: "local",
      PORT: "0",
      DATABASE_URL: databaseUrl,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /AUTH_MODE: local \(no authentication\) is only allowed when HOST is a loopback address, not 0\.0\.0\.0/,
    );
  });

  it("is the default on loopback only; anywhere else the default is keys", () => {
    expect(loadConfig({}).authMode).toBe("local");
    expect(loadConfig({ HOST: "::1" }).authMode).toBe("local");
    expect(loadConfig({ HOST: "127.0.0.2" }).authMode).toBe("local");
    expect(loadConfig({ HOST: "0.0.0.0" }).authMode).toBe("keys");
    expect(loadConfig({ HOST: "10.1.2.3" }).authMode).toBe("keys");
    expect(() => loadConfig({ HOST: "::", AUTH_MODE: "local" })).toThrow(/AUTH_MODE/);
    expect(() => loadConfig({ AUTH_MODE: "none" })).toThrow(/AUTH_MODE: must be keys or local/);
  });
});
