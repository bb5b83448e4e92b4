import type { ReactNode } from "react";

/** Classes for text inputs, selects and textareas; red ring when invalid. */
export const inputClass =
  "block w-full rounded-lg border border-line-strong bg-surface px-3 py-2 text-sm text-fg shadow-xs placeholder:text-fg-subtle focus-visible:outline-2 focus-visible:outline-offset-0 focus-visible:outline-focus aria-invalid:border-red-500 aria-invalid:focus-visible:outline-red-500 disabled:opacity-60";

/** Props for {@link Field}. */
export interface FieldProps {
  /** The control's id; the label, hint and error are tied to it. */
  id: string;
  label: string;
  /** Short help shown under the control. */
  hint?: ReactNode;
  /** A reason the value was refused (client check or server InvalidArgument). */
  error?: string | undefined;
  /** Marks the label "optional". */
  optional?: boolean;
  /**
   * Renders the control, given the attributes that wire it to its hint and
   * error (`aria-describedby`, `aria-invalid`).
   */
  children: (aria: FieldAria) => ReactNode;
  className?: string;
}

/** What {@link Field} asks its control to spread. */
export interface FieldAria {
  id: string;
  "aria-describedby"?: string;
  "aria-invalid"?: true;
}

/** A labelled form control with optional help text and an error message under it. */
export function Field({ id, label, hint, error, optional, children, className }: FieldProps) {
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [error ? errorId : undefined, hint ? hintId : undefined]
    .filter((x) => x !== undefined)
    .join(" ");
  return (
    <div className={`space-y-1.5 ${className ?? ""}`}>
      <label htmlFor={id} className="flex items-baseline gap-2 text-sm font-medium text-fg">
        {label}
        {optional && <span className="text-xs font-normal text-fg-subtle">optional</span>}
      </label>
      {children({
        id,
        ...(describedBy !== "" ? { "aria-describedby": describedBy } : {}),
        ...(error ? { "aria-invalid": true as const } : {}),
      })}
      {error && (
        <p id={errorId} className="text-sm font-medium text-danger">
          {error}
        </p>
      )}
      {hint && (
        <p id={hintId} className="text-xs text-fg-subtle">
          {hint}
        </p>
      )}
    </div>
  );
}
