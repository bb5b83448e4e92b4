import { type Task, TaskStatus } from "@promptline/proto";
import { Link } from "react-router";
import { taskTitle } from "../../format";
import { PARENT_OUTPUT, type ParentOutputMode } from "../../taskDraft";
import { Button } from "../Button";
import { StatusChip } from "../StatusChip";
import { controlIds } from "./controls";

/** Props for {@link ParentField}. */
export interface ParentFieldProps {
  parentId: string;
  /** The parent as loaded, for its name and output; undefined while unknown. */
  parent: Task | undefined;
  mode: ParentOutputMode;
  onModeChange: (mode: ParentOutputMode) => void;
  onRemove: () => void;
  error: string | undefined;
}

/**
 * "Made from": the task this one is made from, and how its output gets into
 * the prompt: as `{{parent.output}}`, filled in when the task runs, or pasted
 * in now for editing.
 */
export function ParentField({
  parentId,
  parent,
  mode,
  onModeChange,
  onRemove,
  error,
}: ParentFieldProps) {
  const canPaste = parent !== undefined && parent.status === TaskStatus.COMPLETED;
  const errorId = "task-parent-error";
  return (
    <fieldset
      data-testid="made-from"
      aria-describedby={error ? errorId : undefined}
      className={`rounded-lg border p-3 ${error ? "border-red-500" : "border-line"}`}
    >
      <legend className="sr-only">Made from</legend>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <p className="min-w-0 text-sm">
          <span className="text-fg-muted">Made from </span>
          <Link
            to={`/tasks/${parentId}`}
            target="_blank"
            rel="noopener"
            className="font-medium break-words text-accent-text underline"
          >
            {parent !== undefined ? taskTitle(parent, 80) : parentId}
            <span className="sr-only"> (opens in a new tab)</span>
          </Link>{" "}
          {parent !== undefined && <StatusChip status={parent.status} />}
          <span className="mt-0.5 block font-mono text-xs text-fg-subtle">{parentId}</span>
        </p>
        <Button size="sm" variant="ghost" onClick={onRemove}>
          Remove parent
        </Button>
      </div>
      {error && (
        <p id={errorId} className="mt-2 text-sm font-medium text-danger">
          {error}
        </p>
      )}
      <fieldset className="mt-3 space-y-1.5">
        <legend className="mb-1 text-xs font-medium text-fg-muted">
          How its output gets into the prompt
        </legend>
        <label className="flex items-start gap-2 text-sm">
          <input
            id={controlIds.parent_task_id}
            type="radio"
            name="parent-output"
            checked={mode === "reference"}
            onChange={() => onModeChange("reference")}
            className="mt-1 accent-accent"
          />
          <span>
            As <code className="rounded bg-sunken px-1 font-mono text-xs">{PARENT_OUTPUT}</code>,
            filled in when this task runs
          </span>
        </label>
        <label
          className={`flex items-start gap-2 text-sm ${canPaste ? "" : "cursor-not-allowed opacity-60"}`}
        >
          <input
            type="radio"
            name="parent-output"
            checked={mode === "paste"}
            disabled={!canPaste}
            onChange={() => onModeChange("paste")}
            className="mt-1 accent-accent"
          />
          <span>
            Pasted into the prompt now, to edit
            {!canPaste && (
              <span className="block text-xs text-fg-subtle">
                Possible once the parent has completed.
              </span>
            )}
          </span>
        </label>
      </fieldset>
    </fieldset>
  );
}
