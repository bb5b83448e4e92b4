import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { CreateTaskRequestSchema, TaskPriority, TaskSchema } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  applyParentOutputMode,
  draftFromTask,
  emptyDraft,
  PARENT_OUTPUT,
  parseTaskRef,
  rowErrorKey,
  runAtError,
  stopSequences,
  type TaskDraft,
  toCreateRequest,
  validateDraft,
} from "./taskDraft";

const ready = { ...emptyDraft(), prompt: "Say hi", model: "simulator/echo" };

describe("validateDraft", () => {
  it("accepts a prompt and a model, everything else left empty", () => {
    expect(validateDraft(ready)).toEqual({});
  });

  it("asks for a prompt and a model", () => {
    expect(validateDraft({ ...emptyDraft(), prompt: "   " })).toEqual({
      prompt: "Enter a prompt.",
      model: "Choose a model.",
    });
  });

  it("catches text where numbers go, and numbers out of their obvious range", () => {
    const errors = validateDraft({
      ...ready,
      temperature: "warm",
      topP: "1.5",
      maxTokens: "2.5",
      seed: "99999999999999999999",
    });
    expect(Object.keys(errors).sort()).toEqual(["max_tokens", "seed", "temperature", "top_p"]);
    expect(
      validateDraft({ ...ready, temperature: "0.7", topP: "1", maxTokens: "256", seed: "-42" }),
    ).toEqual({});
  });

  it("limits the name to 200 characters", () => {
    expect(validateDraft({ ...ready, name: "n".repeat(201) }).name).toBeDefined();
  });
});

describe("toCreateRequest", () => {
  it("leaves unset parameters unset, so the model's defaults apply", () => {
    const req = create(CreateTaskRequestSchema, toCreateRequest(ready));
    expect(req.priority).toBe(TaskPriority.NORMAL);
    expect(req.params?.temperature).toBeUndefined();
    expect(req.params?.topP).toBeUndefined();
    expect(req.params?.maxTokens).toBeUndefined();
    expect(req.params?.seed).toBeUndefined();
    expect(req.params?.stop).toEqual([]);
  });

  it("sends what was filled in, with the right types", () => {
    const req = create(
      CreateTaskRequestSchema,
      toCreateRequest({
        ...ready,
        name: "  Greeting ",
        temperature: " 0.2",
        topP: ".9",
        maxTokens: "128",
        seed: "12345678901234567",
        stop: "END\n\n  \n###",
      }),
    );
    expect(req.name).toBe("Greeting");
    expect(req.params?.temperature).toBe(0.2);
    expect(req.params?.topP).toBe(0.9);
    expect(req.params?.maxTokens).toBe(128);
    expect(req.params?.seed).toBe(12345678901234567n);
    expect(req.params?.stop).toEqual(["END", "###"]);
  });
});

describe("stopSequences", () => {
  it("keeps spaces inside a sequence", () => {
    expect(stopSequences(" the end \r\nSTOP")).toEqual([" the end ", "STOP"]);
  });
});

const ID = "0190a5c8-1234-7000-8000-00000000abcd";
const OTHER = "0190a5c8-1234-7000-8000-00000000ef01";

describe("dependencies and variables", () => {
  const withRows = (rows: Partial<TaskDraft>): TaskDraft => ({ ...ready, ...rows });

  it("sends the rows that were filled in, ids taken from pasted links", () => {
    const req = create(
      CreateTaskRequestSchema,
      toCreateRequest(
        withRows({
          parentTaskId: OTHER,
          dependsOn: [
            { key: "a", taskId: ` ${ID} `, name: "research" },
            { key: "b", taskId: "", name: "" },
            { key: "c", taskId: `http://localhost:8080/tasks/${OTHER.toUpperCase()}`, name: "" },
          ],
          vars: [
            { key: "v", name: " topic ", value: "otters " },
            { key: "w", name: "", value: "" },
          ],
        }),
      ),
    );
    expect(req.parentTaskId).toBe(OTHER);
    expect(req.dependsOn.map((d) => [d.target.value, d.name])).toEqual([
      [ID, "research"],
      [OTHER, ""],
    ]);
    expect(req.vars).toEqual({ topic: "otters " });
  });

  it("leaves parent_task_id unset without a parent", () => {
    const req = create(CreateTaskRequestSchema, toCreateRequest(ready));
    expect(req.parentTaskId).toBeUndefined();
    expect(req.dependsOn).toEqual([]);
  });

  it("finds the rows that can't be sent, by row and part", () => {
    const errors = validateDraft(
      withRows({
        dependsOn: [
          { key: "a", taskId: "", name: "x" },
          { key: "b", taskId: "not an id", name: "1st" },
          { key: "c", taskId: ID, name: "x" },
        ],
        vars: [
          { key: "v", name: "", value: "orphan" },
          { key: "w", name: "topic", value: "" },
          { key: "z", name: "topic", value: "again" },
        ],
      }),
    );
    expect(errors).toEqual({
      [rowErrorKey("depends_on", "a", "task_id")]: "Enter a task id.",
      [rowErrorKey("depends_on", "b", "task_id")]: "Paste a task id, or a link to a task's page.",
      [rowErrorKey("depends_on", "b", "name")]:
        "Letters, digits and _ only, not starting with a digit.",
      [rowErrorKey("depends_on", "c", "name")]: "Another task has this name already.",
      [rowErrorKey("vars", "v", "name")]: "Name this variable.",
      [rowErrorKey("vars", "z", "name")]: "Another variable has this name already.",
    });
  });
});

describe("parseTaskRef", () => {
  it("takes an id, or the id in a link to a task's page", () => {
    expect(parseTaskRef(ID.toUpperCase())).toBe(ID);
    expect(parseTaskRef(`https://promptline.example/tasks/${ID}?tab=output`)).toBe(ID);
    expect(parseTaskRef(`/tasks/${ID}`)).toBe(ID);
    expect(parseTaskRef(`${ID}x`)).toBeUndefined();
    expect(parseTaskRef("task 12")).toBeUndefined();
  });
});

describe("draftFromTask", () => {
  const source = create(TaskSchema, {
    id: ID,
    name: "Summarise",
    prompt: "Summarise {{vars.topic}}",
    systemPrompt: "Be brief.",
    model: "simulator/echo",
    priority: TaskPriority.HIGH,
    params: { temperature: 0.5, maxTokens: 64, seed: 7n, stop: ["END", "###"] },
    output: "Otters hold hands.",
    vars: { topic: "otters", audience: "kids" },
    parentTaskId: OTHER,
  });

  it("uses a task as the parent, with {{parent.output}} in the prompt by default", () => {
    const draft = draftFromTask(source, "child");
    expect(draft).toMatchObject({
      name: "",
      prompt: PARENT_OUTPUT,
      parentTaskId: ID,
      systemPrompt: "Be brief.",
      model: "simulator/echo",
      priority: TaskPriority.HIGH,
      temperature: "0.5",
      topP: "",
      maxTokens: "64",
      seed: "7",
      stop: "END\n###",
      vars: [],
    });
    expect(draftFromTask(source, "child", "paste").prompt).toBe("Otters hold hands.");
  });

  it("duplicates a task without its parent, vars kept", () => {
    const draft = draftFromTask(source, "duplicate");
    expect(draft).toMatchObject({
      name: "Summarise",
      prompt: "Summarise {{vars.topic}}",
      parentTaskId: "",
      model: "simulator/echo",
    });
    expect(draft.vars.map((v) => [v.name, v.value])).toEqual([
      ["audience", "kids"],
      ["topic", "otters"],
    ]);
  });
});

describe("applyParentOutputMode", () => {
  const output = "Echo: one $& two";

  it("pastes the output where the reference was, literally", () => {
    expect(applyParentOutputMode("Shorten: {{ parent.output }}!", output, "paste")).toBe(
      "Shorten: Echo: one $& two!",
    );
  });

  it("puts the reference back where the output was", () => {
    expect(applyParentOutputMode(`Shorten: ${output}!`, output, "reference")).toBe(
      "Shorten: {{parent.output}}!",
    );
  });

  it("adds what is missing at the end, so the choice always shows", () => {
    expect(applyParentOutputMode("Shorten this:", output, "paste")).toBe(
      `Shorten this:\n\n${output}`,
    );
    expect(applyParentOutputMode("", output, "reference")).toBe(PARENT_OUTPUT);
    expect(applyParentOutputMode("{{parent.output}} again", output, "reference")).toBe(
      "{{parent.output}} again",
    );
  });
});

describe("schedule", () => {
  const now = new Date(2026, 10, 24, 12, 0).getTime();

  it("accepts now, a near past moment and up to 30 days ahead", () => {
    expect(runAtError("", now)).toBeUndefined();
    expect(runAtError("2026-11-24T11:59", now)).toBeUndefined();
    expect(runAtError("2026-12-24T11:00", now)).toBeUndefined();
  });

  it("refuses a passed time, more than 30 days ahead, or no time at all", () => {
    expect(runAtError("2026-11-24T10:00", now)).toMatch(/has passed/);
    expect(runAtError("2027-01-01T00:00", now)).toMatch(/30 days/);
    expect(runAtError("soon", now)).toMatch(/Pick a date/);
  });

  it("sends the local time as run_at, and nothing when it runs now", () => {
    const at = create(
      CreateTaskRequestSchema,
      toCreateRequest({ ...emptyDraft(), prompt: "p", model: "m", runAt: "2026-11-24T15:30" }),
    ).runAt;
    expect(at && timestampMs(at)).toBe(new Date(2026, 10, 24, 15, 30).getTime());
    expect(toCreateRequest({ ...emptyDraft(), prompt: "p", model: "m" }).runAt).toBeUndefined();
  });
});

describe("labels", () => {
  it("send key:value pairs as metadata, and refuse text that isn't pairs", () => {
    const draft = { ...emptyDraft(), prompt: "p", model: "m", metadata: "team:red  area:search" };
    expect(validateDraft(draft).metadata).toBeUndefined();
    expect(toCreateRequest(draft).metadata).toEqual({ team: "red", area: "search" });
    expect(validateDraft({ ...draft, metadata: "team" }).metadata).toMatch(/key:value pairs/);
  });

  it("are copied by a duplicate, not by a child", () => {
    const task = create(TaskSchema, { id: "t", prompt: "p", metadata: { team: "red" } });
    expect(draftFromTask(task, "duplicate").metadata).toBe("team:red");
    expect(draftFromTask(task, "child").metadata).toBe("");
  });
});
