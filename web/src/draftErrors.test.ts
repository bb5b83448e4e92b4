import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { serverDraftErrors } from "./draftErrors";
import { emptyDraft, rowErrorKey, type TaskDraft } from "./taskDraft";

const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);

const draft: TaskDraft = {
  ...emptyDraft(),
  prompt: "{{deps.x.output}}",
  model: "simulator/echo",
  dependsOn: [
    { key: "blank", taskId: "", name: "" },
    { key: "first", taskId: "0190a5c8-0000-7000-8000-000000000000", name: "x" },
    { key: "second", taskId: "0190a5c8-0000-7000-8000-000000000001", name: "y" },
  ],
  vars: [{ key: "topic", name: "topic", value: "otters" }],
};

describe("serverDraftErrors", () => {
  it("puts a dependency's error on the row that was sent at that index", () => {
    const { errors, other } = serverDraftErrors(
      invalid("depends_on[1].task_id: task 0190a5c8-0000-7000-8000-000000000001 does not exist"),
      draft,
    );
    expect(errors).toEqual({
      [rowErrorKey("depends_on", "second", "task_id")]:
        "task 0190a5c8-0000-7000-8000-000000000001 does not exist",
    });
    expect(other).toEqual([]);
  });

  it("puts a reference error on the prompt", () => {
    const { errors } = serverDraftErrors(
      invalid("prompt: uses {{deps.z.output}} but no dependency is named z"),
      draft,
    );
    expect(errors).toEqual({ prompt: "uses {{deps.z.output}} but no dependency is named z" });
  });

  it("finds a variable's row by its name", () => {
    expect(
      serverDraftErrors(invalid("vars.topic: must be at most 65536 bytes"), draft).errors,
    ).toEqual({ [rowErrorKey("vars", "topic", "value")]: "must be at most 65536 bytes" });
    expect(
      serverDraftErrors(invalid(`vars: name "topic" must be letters, digits or '_'`), draft).errors,
    ).toEqual({
      [rowErrorKey("vars", "topic", "name")]: `name "topic" must be letters, digits or '_'`,
    });
  });

  it("falls back to the section, the field, or the notice above the buttons", () => {
    expect(serverDraftErrors(invalid("depends_on[7].name: bad"), draft).errors).toEqual({
      depends_on: "bad",
    });
    expect(serverDraftErrors(invalid("parent_task_id: task x does not exist"), draft)).toEqual({
      errors: { parent_task_id: "task x does not exist" },
      other: [],
    });
    expect(serverDraftErrors(invalid("ref: nope"), draft).other).toEqual(["ref: nope"]);
    expect(serverDraftErrors(new ConnectError("prompt: x", Code.Internal), draft)).toEqual({
      errors: {},
      other: [],
    });
  });

  it("puts metadata reasons on the labels, with the key they name", () => {
    expect(
      serverDraftErrors(invalid("metadata.team: must be at most 1024 characters"), draft).errors,
    ).toEqual({ metadata: "team: must be at most 1024 characters" });
    expect(
      serverDraftErrors(invalid('metadata: key "a b" must be 1-64 letters'), draft).errors,
    ).toEqual({ metadata: 'key "a b" must be 1-64 letters' });
  });
});
