import {
  type DraftErrors,
  newRowKey,
  type RowErrorKey,
  rowErrorKey,
  type VarDraft,
} from "../../taskDraft";
import { controlIds, rowControlId } from "./controls";
import { RowInput } from "./RowInput";
import { RowList } from "./RowList";

/** Props for {@link VarFields}. */
export interface VarFieldsProps {
  rows: VarDraft[];
  errors: DraftErrors;
  onChange: (rows: VarDraft[]) => void;
  onEdit: (key: RowErrorKey) => void;
}

/** Variables: name and value pairs the prompt uses as `{{vars.<name>}}`. */
export function VarFields({ rows, errors, onChange, onEdit }: VarFieldsProps) {
  const edit = (row: VarDraft, part: "name" | "value", value: string) => {
    onChange(rows.map((r) => (r.key === row.key ? { ...r, [part]: value } : r)));
    onEdit(rowErrorKey("vars", row.key, part));
  };
  return (
    <div className="space-y-3">
      <p className="text-xs text-fg-subtle">
        Values the prompt uses as <code className="font-mono">{"{{vars.<name>}}"}</code>.
      </p>
      {errors.vars && <p className="text-sm font-medium text-danger">{errors.vars}</p>}
      <RowList
        rows={rows}
        onChange={onChange}
        blank={() => ({ key: newRowKey(), name: "", value: "" })}
        addLabel="Add a variable"
        addId={controlIds.vars}
        firstControlId={(row) => rowControlId("vars", row.key, "name")}
        removeLabel={(i) => `Remove variable ${i}`}
        columns="sm:grid-cols-[11rem_minmax(0,1fr)]"
        renderRow={(row, i) => (
          <>
            <RowInput
              id={rowControlId("vars", row.key, "name")}
              label={`Variable ${i}: name`}
              placeholder="e.g. topic"
              mono
              value={row.name}
              onChange={(v) => edit(row, "name", v)}
              error={errors[rowErrorKey("vars", row.key, "name")]}
            />
            <RowInput
              id={rowControlId("vars", row.key, "value")}
              label={`Variable ${i}: value`}
              value={row.value}
              onChange={(v) => edit(row, "value", v)}
              error={errors[rowErrorKey("vars", row.key, "value")]}
            />
          </>
        )}
      />
    </div>
  );
}
