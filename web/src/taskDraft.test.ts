import { create } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, TaskPriority } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { emptyDraft, stopSequences, toCreateRequest, validateDraft } from "./taskDraft";

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
