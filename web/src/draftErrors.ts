import { fieldErrorParts, fieldForPath } from "./errors";
import {
  DRAFT_FIELDS,
  type DraftErrors,
  rowErrorKey,
  sentDependencies,
  sentVars,
  type TaskDraft,
} from "./taskDraft";

/** A CreateTask rejection sorted for the form. */
export interface ServerDraftErrors {
  /** Reasons to show next to a field or a row part. */
  errors: DraftErrors;
  /** Reasons that name nothing the form has, to show above its buttons. */
  other: string[];
}

/**
 * Puts each reason of an InvalidArgument next to the control it is about:
 * `depends_on[1].task_id: …` on the second dependency row that was sent (blank
 * rows are not), `vars.topic: …` and `vars: name "x y" …` on that variable's
 * row, `prompt: uses {{deps.x.output}} but …` on the prompt. A reason for a
 * row the form no longer has goes to its section.
 */
export function serverDraftErrors(err: unknown, draft: TaskDraft): ServerDraftErrors {
  const errors: DraftErrors = {};
  const other: string[] = [];
  const add = (key: keyof DraftErrors, reason: string) => {
    const previous = errors[key];
    errors[key] = previous === undefined ? reason : `${previous}; ${reason}`;
  };
  const deps = sentDependencies(draft);
  const vars = sentVars(draft);

  for (const { path, reason } of fieldErrorParts(err)) {
    if (path === undefined) {
      other.push(reason);
      continue;
    }
    const dep = /^depends_on\[(\d+)\](?:\.(task_id|name))?$/.exec(path);
    if (dep !== null) {
      const row = deps[Number(dep[1])];
      const part = dep[2];
      if (row !== undefined && (part === "task_id" || part === "name")) {
        add(rowErrorKey("depends_on", row.key, part), reason);
      } else {
        add("depends_on", reason);
      }
      continue;
    }
    const varValue = /^vars\.([A-Za-z0-9_]+)$/.exec(path);
    if (varValue !== null || path === "vars") {
      const name = varValue?.[1] ?? /^name "([^"]*)"/.exec(reason)?.[1];
      const row = vars.find((v) => v.name.trim() === name);
      if (row === undefined) add("vars", reason);
      else add(rowErrorKey("vars", row.key, varValue === null ? "name" : "value"), reason);
      continue;
    }
    // `metadata: key "x" …` and `metadata.team: …` both belong to the labels.
    if (path === "metadata" || path.startsWith("metadata.")) {
      add("metadata", path === "metadata" ? reason : `${path.slice(9)}: ${reason}`);
      continue;
    }
    const field = fieldForPath(path, DRAFT_FIELDS);
    if (field === undefined) other.push(`${path}: ${reason}`);
    else add(field, reason);
  }
  return { errors, other };
}
