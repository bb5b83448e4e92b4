import type { InputHTMLAttributes } from "react";
import { inputClass } from "../Field";

/** Props for {@link RowInput}. */
export interface RowInputProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "onChange"> {
  id: string;
  /** The accessible name; shown as a small label above the input. */
  label: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  mono?: boolean;
}

/** One input of a dependency or variable row, with its label and error. */
export function RowInput({ id, label, value, onChange, error, mono, ...rest }: RowInputProps) {
  const errorId = `${id}-error`;
  return (
    <div className="min-w-0 space-y-1">
      <label htmlFor={id} className="block text-xs font-medium text-fg-muted">
        {label}
      </label>
      <input
        {...rest}
        id={id}
        type="text"
        autoComplete="off"
        spellCheck={false}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        className={`${inputClass} ${mono ? "font-mono" : ""}`}
      />
      {error && (
        <p id={errorId} className="text-sm font-medium text-danger">
          {error}
        </p>
      )}
    </div>
  );
}
