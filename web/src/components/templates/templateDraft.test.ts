import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { TemplateSchema } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { parseMetadataPairs } from "../../metadataPairs";
import { validateDraft } from "../../taskDraft";
import {
  detectVariables,
  emptyTemplateDraft,
  sentVariables,
  serverTemplateErrors,
  TEMPLATE_ID_KEY,
  taskDraftFromTemplate,
  toTemplateRequest,
} from "./templateDraft";

describe("taskDraftFromTemplate", () => {
  it("fills the form and labels the task with the template it came from", () => {
    const template = create(TemplateSchema, {
      id: "0193a9c4-6f0e-7c3a-9a41-2f5b8d1e4c77",
      name: "Summarize",
      prompt: "Summarize {{vars.text}}",
      model: "simulator/echo",
      variables: [{ name: "text", defaultValue: "this" }],
    });
    const draft = taskDraftFromTemplate(template);
    expect(draft.prompt).toBe("Summarize {{vars.text}}");
    expect(draft.vars.map((v) => [v.name, v.value])).toEqual([["text", "this"]]);
    expect(parseMetadataPairs(draft.metadata)).toEqual({ [TEMPLATE_ID_KEY]: template.id });
    expect(validateDraft(draft).metadata).toBeUndefined();
  });
});

describe("detectVariables", () => {
  it("finds {{vars.<name>}} as the server reads it, each once, in order", () => {
    expect(
      detectVariables("{{vars.b}} and {{ vars.a }} and {{vars.b}}", "system {{vars.c}}"),
    ).toEqual(["b", "a", "c"]);
  });

  it("ignores what the server would not take as a variable", () => {
    expect(detectVariables("{{parent.output}} {{deps.x.output}} {{vars.1x}} {{topic}}")).toEqual(
      [],
    );
  });
});

describe("toTemplateRequest", () => {
  it("sends exactly the variables the prompts use, keeping what was written about them", () => {
    const draft = {
      ...emptyTemplateDraft(),
      name: " Summary ",
      prompt: "About {{vars.topic}}",
      model: "simulator/echo",
      temperature: "0.5",
      variables: {
        topic: { description: " What about ", defaultValue: "" },
        // No longer in the prompt: kept in the draft, not sent.
        gone: { description: "", defaultValue: "x" },
      },
    };
    const request = toTemplateRequest(draft);
    expect(request.name).toBe("Summary");
    expect(request.params).toEqual({ stop: [], temperature: 0.5 });
    expect(request.variables).toEqual([{ name: "topic", description: "What about" }]);
    expect(
      sentVariables({ ...draft, variables: { topic: { description: "", defaultValue: "d" } } }),
    ).toEqual([{ name: "topic", description: "", defaultValue: "d" }]);
  });
});

describe("serverTemplateErrors", () => {
  it("puts each reason at the field it names", () => {
    const err = new ConnectError(
      "template.prompt: uses {{vars.x}} but variables has no x",
      Code.InvalidArgument,
    );
    expect(serverTemplateErrors(err)).toEqual({
      errors: { prompt: "uses {{vars.x}} but variables has no x" },
      other: [],
    });
    expect(
      serverTemplateErrors(
        new ConnectError("params.top_p: must be greater than 0", Code.InvalidArgument),
      ).errors,
    ).toEqual({ top_p: "must be greater than 0" });
    expect(
      serverTemplateErrors(
        new ConnectError("variables[1].name: y is not used in prompt", Code.InvalidArgument),
      ).errors,
    ).toEqual({ variables: "y is not used in prompt" });
  });

  it("shows a taken name at the name, and keeps reasons about nothing on the form apart", () => {
    expect(
      serverTemplateErrors(
        new ConnectError('name: a template named "a" already exists', Code.AlreadyExists),
      ).errors,
    ).toEqual({ name: 'a template named "a" already exists' });
    expect(
      serverTemplateErrors(new ConnectError("update_mask.paths[0]: no", Code.InvalidArgument)),
    ).toEqual({ errors: {}, other: ["update_mask.paths[0]: no"] });
  });
});
