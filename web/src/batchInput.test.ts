import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { BatchCreateTasksRequestSchema, TaskPriority } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { batchRequest, batchServerErrors, detectFormat, parseBatch } from "./batchInput";

const defaults = { model: "simulator/echo", priority: TaskPriority.NORMAL, runAt: "" };

describe("parseBatch", () => {
  it("reads one prompt per non-blank line", () => {
    const { rows, problems } = parseBatch("first\n\n  second  \r\nthird", "lines");
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.source, r.prompt])).toEqual([
      [1, "first"],
      [3, "second"],
      [4, "third"],
    ]);
  });

  it("reads a CSV with quoted commas and newlines; unknown columns become variables", () => {
    const csv = [
      "Name,Prompt,priority,temperature,city",
      'one,"Weather in {{vars.city}}, please",high,0.5,Oslo',
      'two,"two\nlines",,,Lima',
    ].join("\n");
    const { rows, problems } = parseBatch(csv, "csv");
    expect(problems).toEqual([]);
    expect(rows[0]).toMatchObject({
      name: "one",
      prompt: "Weather in {{vars.city}}, please",
      priority: TaskPriority.HIGH,
      temperature: 0.5,
      vars: { city: "Oslo" },
      error: undefined,
    });
    expect(rows[1]).toMatchObject({
      prompt: "two\nlines",
      priority: undefined,
      vars: { city: "Lima" },
    });
  });

  it("says what is wrong with a CSV and with each bad row", () => {
    expect(parseBatch("name,text\na,b", "csv").problems[0]).toMatch(/needs a "prompt" column/);
    const { rows } = parseBatch("prompt,priority,max_tokens\n,urgent,1.5", "csv");
    expect(rows[0]?.error).toMatch(/prompt is empty/);
    expect(rows[0]?.error).toMatch(/priority must be low, normal, high or critical/);
    expect(rows[0]?.error).toMatch(/max_tokens must be a whole number/);
  });

  it("reads JSON Lines, flagging lines that are not objects", () => {
    const text = [
      '{"prompt": "hi {{vars.who}}", "model": "simulator/lorem", "vars": {"who": "you"}}',
      "not json",
      "[1]",
      '{"prompt": "plain", "max_tokens": 20}',
    ].join("\n");
    const { rows } = parseBatch(text, "jsonl");
    expect(rows.map((r) => r.error === undefined)).toEqual([true, false, false, true]);
    expect(rows[0]).toMatchObject({ model: "simulator/lorem", vars: { who: "you" } });
    expect(rows[1]?.error).toBe("Not valid JSON.");
    expect(rows[3]).toMatchObject({ source: 4, maxTokens: 20 });
  });

  it("refuses more tasks than one batch holds", () => {
    const text = Array.from({ length: 101 }, (_, i) => `p${i}`).join("\n");
    expect(parseBatch(text, "lines").problems[0]).toMatch(/at most 100 tasks; this has 101/);
  });
});

describe("run_at", () => {
  const now = new Date(2026, 10, 24, 12, 0).getTime();

  it("schedules a row by its run_at, else by the form's choice, else now", () => {
    const { rows } = parseBatch(
      "prompt,run_at\na,2026-11-25T09:00\nb,\nc,2026-11-26T13:00:00Z",
      "csv",
      now,
    );
    expect(rows.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    const req = create(
      BatchCreateTasksRequestSchema,
      batchRequest(rows, { ...defaults, runAt: "2026-11-24T18:00" }),
    );
    expect(
      req.tasks.map((t) => (t.runAt === undefined ? undefined : timestampMs(t.runAt))),
    ).toEqual([
      new Date(2026, 10, 25, 9, 0).getTime(),
      new Date(2026, 10, 24, 18, 0).getTime(),
      Date.UTC(2026, 10, 26, 13, 0),
    ]);
    expect(
      create(BatchCreateTasksRequestSchema, batchRequest(rows.slice(1, 2), defaults)).tasks[0]
        ?.runAt,
    ).toBeUndefined();
  });

  it("refuses a run_at that is not a time, has passed, or is too far ahead", () => {
    const { rows } = parseBatch(
      '{"prompt": "a", "run_at": "tomorrow"}\n{"prompt": "b", "run_at": "2026-11-01T00:00"}\n{"prompt": "c", "run_at": "2027-06-01T00:00"}',
      "jsonl",
      now,
    );
    expect(rows[0]?.error).toMatch(/run_at "tomorrow": Pick a date and a time/);
    expect(rows[1]?.error).toMatch(/has passed/);
    expect(rows[2]?.error).toMatch(/30 days/);
  });
});

describe("detectFormat", () => {
  it("goes by the file name, else by the text", () => {
    expect(detectFormat("", "Prompts.CSV")).toBe("csv");
    expect(detectFormat("", "a.jsonl")).toBe("jsonl");
    expect(detectFormat('{"prompt":"x"}')).toBe("jsonl");
    expect(detectFormat("just text")).toBe("lines");
  });
});

describe("batchRequest and batchServerErrors", () => {
  it("fills the form's model and priority only where a row has none", () => {
    const { rows } = parseBatch("prompt,model,priority\na,,\nb,simulator/lorem,critical", "csv");
    const req = create(BatchCreateTasksRequestSchema, batchRequest(rows, defaults));
    expect(req.tasks.map((t) => [t.model, t.priority])).toEqual([
      ["simulator/echo", TaskPriority.NORMAL],
      ["simulator/lorem", TaskPriority.CRITICAL],
    ]);
    expect(req.tasks[0]?.params?.temperature).toBeUndefined();
  });

  it("maps the server's tasks[i] reasons to rows", () => {
    const err = new ConnectError(
      "tasks[2].model: unknown model nope; tasks: must not be empty",
      Code.InvalidArgument,
    );
    const { byRow, other } = batchServerErrors(err);
    expect(byRow.get(2)).toBe("model: unknown model nope");
    expect(other).toEqual(["tasks: must not be empty"]);
  });
});
