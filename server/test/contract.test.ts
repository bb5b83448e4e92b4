import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `buf breaking` as CI runs it (scripts/check-breaking.mjs), and the rules of
// proto/buf.yaml, on copies of proto/: the checkout is never touched.
const root = path.resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(path.join(tmpdir(), "promptline-contract-"));
const TASK_PROTO = "promptline/v1/task.proto";
const FIELD = "  string rendered_prompt = 34;\n";

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of proto/ (sources and buf.yaml only) with task.proto edited. */
function protoCopy(name: string, edit: (task: string) => string = (t) => t): string {
  const dir = path.join(scratch, name);
  for (const entry of ["buf.yaml", "promptline", "grpc"]) {
    cpSync(path.join(root, "proto", entry), path.join(dir, entry), { recursive: true });
  }
  const task = path.join(dir, TASK_PROTO);
  const source = readFileSync(task, "utf8");
  expect(source).toContain(FIELD);
  writeFileSync(task, edit(source));
  return dir;
}

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("scripts/check-breaking.mjs", () => {
  it("passes against the same contract", () => {
    const same = protoCopy("same");
    const result = run("node", ["scripts/check-breaking.mjs"], { BUF_BREAKING_AGAINST: same });
    expect(result.output).toContain("no breaking change");
    expect(result.status).toBe(0);
  });

  it("fails, naming the field, when proto/ lost a field the baseline has", () => {
    const richer = protoCopy("richer", (t) => t.replace(FIELD, `${FIELD}  string gone = 999;\n`));
    const result = run("node", ["scripts/check-breaking.mjs"], { BUF_BREAKING_AGAINST: richer });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/field "999" with name "gone" on message "Task" was deleted/);
    expect(result.output).toContain('see "Evolving the API" in README.md');
  });
});

describe("proto/buf.yaml breaking rules", () => {
  let baseline = "";
  beforeAll(() => {
    baseline = protoCopy("baseline");
  });
  const breaking = (edit: (task: string) => string, name: string) =>
    run("pnpm", ["exec", "buf", "breaking", protoCopy(name, edit), "--against", baseline]);

  it("let a field go once its number and name are reserved", () => {
    const result = breaking(
      (t) => t.replace(FIELD, '  reserved 34;\n  reserved "rendered_prompt";\n'),
      "reserved",
    );
    expect(result.output).toBe("");
    expect(result.status).toBe(0);
  });

  it("refuse a renumbered field, and a removal that does not reserve the name", () => {
    const renumbered = breaking(
      (t) => t.replace(FIELD, "  string rendered_prompt = 36;\n"),
      "renumbered",
    );
    expect(renumbered.status).not.toBe(0);
    expect(renumbered.output).toContain('deleted without reserving the number "34"');
    const numberOnly = breaking((t) => t.replace(FIELD, "  reserved 34;\n"), "number-only");
    expect(numberOnly.status).not.toBe(0);
    expect(numberOnly.output).toContain('without reserving the name "rendered_prompt"');
  });
});
