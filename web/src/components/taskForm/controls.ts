import {
  type DraftErrors,
  type DraftField,
  type RowErrorKey,
  rowErrorKey,
  type TaskDraft,
} from "../../taskDraft";

/** Where each field's control lives, to focus the first one that needs fixing. */
export const controlIds: Record<DraftField, string> = {
  name: "task-name",
  parent_task_id: "task-parent-reference",
  prompt: "task-prompt",
  system_prompt: "task-system-prompt",
  depends_on: "task-add-dependency",
  vars: "task-add-var",
  model: "task-model",
  priority: "task-priority-normal",
  params: "task-temperature",
  temperature: "task-temperature",
  top_p: "task-top-p",
  max_tokens: "task-max-tokens",
  seed: "task-seed",
  stop: "task-stop",
  run_at: "task-run-at",
  metadata: "task-metadata",
};

/** The id of a dependency or variable row's control. */
export function rowControlId(
  section: "depends_on" | "vars",
  rowKey: string,
  part: "task_id" | "name" | "value",
): string {
  return `task-${section === "depends_on" ? "dep" : "var"}-${rowKey}-${part.replace("_", "-")}`;
}

/** The folded sections of the form; an error inside one opens it. */
export type FormSection = "system" | "depends_on" | "vars";

/** A control with an error: its id, and the folded section it sits in, if any. */
export interface ErrorTarget {
  controlId: string;
  section: FormSection | undefined;
}

interface Slot {
  key: DraftField | RowErrorKey;
  controlId: string;
  section: FormSection | undefined;
}

const slot = (key: DraftField | RowErrorKey, controlId: string, section?: FormSection): Slot => ({
  key,
  controlId,
  section,
});

/** The first control with an error, in the order the form shows them; undefined when none. */
export function firstError(errors: DraftErrors, draft: TaskDraft): ErrorTarget | undefined {
  const field = (f: DraftField, section?: FormSection) => slot(f, controlIds[f], section);
  const order: Slot[] = [
    field("name"),
    field("parent_task_id"),
    field("prompt"),
    field("system_prompt", "system"),
    field("depends_on", "depends_on"),
    ...draft.dependsOn.flatMap((d) =>
      (["task_id", "name"] as const).map((part) =>
        slot(
          rowErrorKey("depends_on", d.key, part),
          rowControlId("depends_on", d.key, part),
          "depends_on",
        ),
      ),
    ),
    field("vars", "vars"),
    ...draft.vars.flatMap((v) =>
      (["name", "value"] as const).map((part) =>
        slot(rowErrorKey("vars", v.key, part), rowControlId("vars", v.key, part), "vars"),
      ),
    ),
    field("model"),
    field("priority"),
    field("run_at"),
    field("metadata"),
    field("params"),
    field("temperature"),
    field("top_p"),
    field("max_tokens"),
    field("seed"),
    field("stop"),
  ];
  const found = order.find((s) => errors[s.key] !== undefined);
  return found === undefined ? undefined : { controlId: found.controlId, section: found.section };
}
