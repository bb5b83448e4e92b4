import { useQuery } from "@connectrpc/connect-query";
import { TaskService } from "@promptline/proto";
import { statusLabel, taskTitle } from "../../format";
import {
  type DependencyDraft,
  type DraftErrors,
  newRowKey,
  type RowErrorKey,
  rowErrorKey,
} from "../../taskDraft";
import { controlIds, rowControlId } from "./controls";
import { RowInput } from "./RowInput";
import { RowList } from "./RowList";

const RECENT_LIST_ID = "task-recent-tasks";
const RECENT_COUNT = 25;

/** Props for {@link DependencyFields}. */
export interface DependencyFieldsProps {
  rows: DependencyDraft[];
  errors: DraftErrors;
  onChange: (rows: DependencyDraft[]) => void;
  onEdit: (key: RowErrorKey) => void;
  /** Load the recent tasks to pick from only once the section is open. */
  active: boolean;
}

/**
 * "Wait for other tasks": task ids (typed, pasted as a link, or picked from
 * the recent tasks the browser suggests), each with an optional name for
 * `{{deps.<name>.output}}`.
 */
export function DependencyFields({
  rows,
  errors,
  onChange,
  onEdit,
  active,
}: DependencyFieldsProps) {
  const recent = useQuery(
    TaskService.method.listTasks,
    { pageSize: RECENT_COUNT },
    { enabled: active },
  );
  const edit = (row: DependencyDraft, part: "task_id" | "name", value: string) => {
    const field = part === "task_id" ? "taskId" : "name";
    onChange(rows.map((r) => (r.key === row.key ? { ...r, [field]: value } : r)));
    onEdit(rowErrorKey("depends_on", row.key, part));
  };
  return (
    <div className="space-y-3">
      <p className="text-xs text-fg-subtle">
        This task stays pending until these tasks complete, and is cancelled if one of them fails or
        is cancelled. Name one to use its output as{" "}
        <code className="font-mono">{"{{deps.<name>.output}}"}</code>.
      </p>
      {errors.depends_on && <p className="text-sm font-medium text-danger">{errors.depends_on}</p>}
      <RowList
        rows={rows}
        onChange={onChange}
        blank={() => ({ key: newRowKey(), taskId: "", name: "" })}
        addLabel="Add a task"
        addId={controlIds.depends_on}
        firstControlId={(row) => rowControlId("depends_on", row.key, "task_id")}
        removeLabel={(i) => `Remove task ${i}`}
        columns="sm:grid-cols-[minmax(0,1fr)_11rem]"
        renderRow={(row, i) => (
          <>
            <RowInput
              id={rowControlId("depends_on", row.key, "task_id")}
              label={`Task ${i}: id or link`}
              list={RECENT_LIST_ID}
              placeholder="Paste an id, or pick a recent task"
              mono
              value={row.taskId}
              onChange={(v) => edit(row, "task_id", v)}
              error={errors[rowErrorKey("depends_on", row.key, "task_id")]}
            />
            <RowInput
              id={rowControlId("depends_on", row.key, "name")}
              label={`Task ${i}: name (optional)`}
              placeholder="e.g. research"
              mono
              value={row.name}
              onChange={(v) => edit(row, "name", v)}
              error={errors[rowErrorKey("depends_on", row.key, "name")]}
            />
          </>
        )}
      />
      <datalist id={RECENT_LIST_ID}>
        {(recent.data?.tasks ?? []).map((t) => (
          <option
            key={t.id}
            value={t.id}
            label={`${taskTitle(t, 60)} · ${statusLabel(t.status)}`}
          />
        ))}
      </datalist>
    </div>
  );
}
