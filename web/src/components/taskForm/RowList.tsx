import { type ReactNode, useEffect, useState } from "react";
import { Button } from "../Button";

/** Props for {@link RowList}. */
export interface RowListProps<R extends { key: string }> {
  rows: R[];
  onChange: (rows: R[]) => void;
  /** A blank row, for "Add". */
  blank: () => R;
  /** The words of the add button, e.g. "Add a task". */
  addLabel: string;
  /** The add button's id (the section's errors focus it). */
  addId: string;
  /** The control to focus in a row just added. */
  firstControlId: (row: R) => string;
  /** One row's controls; `index` counts from 1 for labels. */
  renderRow: (row: R, index: number) => ReactNode;
  /** The remove button's accessible name for a row. */
  removeLabel: (index: number) => string;
  /** Tailwind grid columns for a row's controls from `sm` up (whole class names). */
  columns: string;
}

/**
 * An editable list of rows with "Add" and per-row "Remove"; a new row's first
 * control takes the focus, and removing a row moves it to the add button.
 */
export function RowList<R extends { key: string }>(props: RowListProps<R>) {
  const {
    rows,
    onChange,
    blank,
    addLabel,
    addId,
    firstControlId,
    renderRow,
    removeLabel,
    columns,
  } = props;
  const [focusId, setFocusId] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (focusId === undefined) return;
    document.getElementById(focusId)?.focus();
    setFocusId(undefined);
  }, [focusId]);

  return (
    <div className="space-y-2">
      {rows.length > 0 && (
        <ul className="space-y-2">
          {rows.map((row, i) => (
            <li key={row.key} className="flex items-start gap-2">
              <div className={`grid min-w-0 flex-1 gap-2 ${columns}`}>{renderRow(row, i + 1)}</div>
              <Button
                size="md"
                variant="ghost"
                aria-label={removeLabel(i + 1)}
                title={removeLabel(i + 1)}
                onClick={() => {
                  onChange(rows.filter((r) => r.key !== row.key));
                  setFocusId(addId);
                }}
                className="mt-5 w-10 shrink-0 px-0"
              >
                <svg aria-hidden="true" viewBox="0 0 20 20" fill="currentColor" className="size-4">
                  <path d="M6.28 5.22a.75.75 0 0 0-1.06 1.06L8.94 10l-3.72 3.72a.75.75 0 1 0 1.06 1.06L10 11.06l3.72 3.72a.75.75 0 1 0 1.06-1.06L11.06 10l3.72-3.72a.75.75 0 0 0-1.06-1.06L10 8.94 6.28 5.22Z" />
                </svg>
              </Button>
            </li>
          ))}
        </ul>
      )}
      <Button
        id={addId}
        size="sm"
        variant="secondary"
        onClick={() => {
          const row = blank();
          onChange([...rows, row]);
          setFocusId(firstControlId(row));
        }}
      >
        <span aria-hidden="true">+</span> {addLabel}
      </Button>
    </div>
  );
}
