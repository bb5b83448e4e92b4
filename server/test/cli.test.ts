import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { startTestApp, type TestApp } from "./harness.js";

const SERVER_DIR = new URL("..", import.meta.url).pathname;

let app: TestApp;

beforeAll(async () => {
  // No grace on shutdown: a task left hanging must not hold close() up.
  app = await startTestApp({ SHUTDOWN_GRACE_MS: "0" });
});

afterAll(async () => {
  await app?.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as it arrived, chunk by chunk. */
  chunks: string[];
}

/** `promptline …` as a user runs it: a child process, PROMPTLINE_URL pointing at the test app. */
function promptline(...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
    cwd: SERVER_DIR,
    env: { ...process.env, PROMPTLINE_URL: app.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: Run = { code: null, stdout: "", stderr: "", chunks: [] };
  child.stdout.on("data", (chunk: Buffer) => {
    run.chunks.push(chunk.toString());
    run.stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  return new Promise((resolve) =>
    child.once("close", (code) => {
      run.code = code;
      resolve(run);
    }),
  );
}

describe("promptline CLI (child processes against a started app)", () => {
  it("create --watch streams the output as it is written; get --json shows the task", async () => {
    const created = await promptline(
      "create",
      "[[sim tokens=16 tps=20]] go",
      "--model",
      "simulator/lorem",
      "--name",
      "from the cli",
      "--priority",
      "high",
      "--param",
      "temperature=0.2",
      "--param",
      "max_tokens=64",
      "--watch",
    );
    expect(created.code).toBe(0);
    const id = created.stderr.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // Pieces arrived while the task ran (the final newline is the CLI's own).
    expect(created.chunks.filter((c) => c.trim() !== "").length).toBeGreaterThanOrEqual(3);

    const shown = await promptline("get", id, "--json");
    expect(shown.code).toBe(0);
    const { task } = JSON.parse(shown.stdout) as {
      task: { id: string; name: string; status: string; priority: string; output: string };
    };
    expect(task).toMatchObject({
      id,
      name: "from the cli",
      status: "TASK_STATUS_COMPLETED",
      priority: "TASK_PRIORITY_HIGH",
    });
    expect(created.stdout).toBe(`${task.output}\n`);
  });

  it("create prints the id; watch prints the output and exits 0, or 1 with the error of a failed task", async () => {
    const created = await promptline("create", "hello there", "-m", "simulator/echo");
    expect(created).toMatchObject({ code: 0, stderr: "" });
    const ok = await promptline("watch", created.stdout.trim());
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("Echo: hello there\n");

    const failed = await promptline(
      "create",
      '[[sim status=400 message="no such parameter"]] x',
      "--model",
      "simulator/echo",
      "--watch",
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/failed: PROVIDER_BAD_REQUEST: no such parameter \(HTTP 400\)/);
  });

  it("lists with filters, cancels and retries", async () => {
    const marker = `cli${Date.now()}`;
    const created = await promptline("create", `[[sim hang]] ${marker}`, "-m", "simulator/echo");
    const id = created.stdout.trim();
    const listed = await promptline("list", "--query", marker, "--json");
    expect(listed.code).toBe(0);
    const { tasks } = JSON.parse(listed.stdout) as { tasks: Array<{ id: string }> };
    expect(tasks.map((t) => t.id)).toEqual([id]);
    const table = await promptline("list", "--query", marker, "--status", "queued,running");
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+STATUS\s+MODEL\s+CREATED\s+NAME$/);
    expect(table.stdout).toContain(id);

    const cancelled = await promptline("cancel", id);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`^${id} (cancelled|running)\\n$`));
    const watched = await promptline("watch", id);
    expect(watched.code).toBe(1);
    expect(watched.stderr).toContain("was cancelled");

    const retried = await promptline("retry", id, "--json");
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ id, status: "TASK_STATUS_QUEUED" });
    expect((await promptline("cancel", id)).code).toBe(0);
  });

  it("reports a failed call with its code and exits 3; a bad flag is a usage error, exit 2", async () => {
    const [missing, badFlag] = await Promise.all([
      promptline("get", "0190a5c8-0000-7000-8000-000000000000"),
      promptline("list", "--colour", "blue"),
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^promptline: not_found: .*not found \(request id [^)]+\)\n$/);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("Unknown option '--colour'");
    expect(badFlag.stdout).toBe("");
  });
});

describe("promptline in process", () => {
  it("reads the prompt from stdin for create -", async () => {
    let stdout = "";
    const code = await runCli(["create", "-", "--model", "simulator/echo", "--watch"], {
      env: { PROMPTLINE_URL: app.url },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: () => true },
      stdin: Readable.from(["from ", "stdin"]),
    });
    expect(code).toBe(0);
    expect(stdout).toBe("Echo: from stdin\n");
  });
});

describe("promptline argument checks", () => {
  async function usageError(...args: string[]): Promise<string> {
    let stderr = "";
    const code = await runCli(args, {
      env: { PROMPTLINE_URL: "http://127.0.0.1:1" },
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
    });
    expect(code).toBe(2);
    return stderr.split("\n")[0] ?? "";
  }

  it.each([
    [[], "promptline: give a command"],
    [["launch"], 'promptline: unknown command "launch"'],
    [["create", "hi"], "promptline: create needs --model <id>"],
    [["create", "hi", "there", "-m", "x"], "promptline: create takes a prompt (quote it)"],
    [["get"], "promptline: get takes a task id"],
    [["get", "x", "--status", "failed"], "promptline: get does not take --status"],
    [["list", "--status", "done"], '--status "done": one of pending, queued, running'],
    [["list", "--limit", "0"], "promptline: --limit must be a whole number above 0"],
    [["create", "hi", "-m", "x", "--param", "heat=1"], '--param "heat": one of temperature'],
    [["create", "hi", "-m", "x", "--param", "temperature"], "write it as key=value"],
    [["create", "hi", "-m", "x", "--param", "max_tokens=1.5"], "must be a whole number"],
    [["create", "hi", "-m", "x", "--priority", "urgent"], '--priority "urgent": one of low'],
    [["list", "--url", "ftp://x"], "promptline: --url must be an http(s) URL"],
  ])("%j is refused before anything is sent", async (args, message) => {
    expect(await usageError(...args)).toContain(message);
  });
});
