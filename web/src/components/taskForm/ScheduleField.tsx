import { useId } from "react";
import { formatAbsolute } from "../../format";
import { RUN_AT_MAX_AHEAD_MS } from "../../taskDraft";
import { Field, inputClass } from "../Field";
import { controlIds } from "./controls";

/** Props for {@link ScheduleField}. */
export interface ScheduleFieldProps {
  /** A `datetime-local` value, or "" for now. */
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
}

/** `datetime-local`'s format for a moment, in local time, to the minute. */
function localInputValue(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * When the task runs: now, or no earlier than a chosen time (it stays
 * pending until then, and the server puts it on the queue when it is due).
 */
export function ScheduleField({ value, onChange, error }: ScheduleFieldProps) {
  const name = useId();
  const later = value !== "";
  const at = later ? new Date(value) : undefined;
  const option =
    "flex cursor-pointer items-center gap-2 rounded-md px-2 py-1.5 text-sm has-checked:bg-surface has-checked:shadow-sm";
  return (
    <fieldset className="space-y-2">
      <legend className="mb-1.5 text-sm font-medium">When to run</legend>
      <div className="grid grid-cols-2 gap-1 rounded-lg bg-sunken p-1">
        <label className={option}>
          <input
            type="radio"
            name={name}
            checked={!later}
            onChange={() => onChange("")}
            className="accent-accent"
          />
          Now
        </label>
        <label className={option}>
          <input
            type="radio"
            name={name}
            checked={later}
            // An hour from now is a start people can adjust.
            onChange={() => onChange(localInputValue(Date.now() + 3_600_000))}
            className="accent-accent"
          />
          Later
        </label>
      </div>
      {later && (
        <Field
          id={controlIds.run_at}
          label="Run at"
          error={error}
          hint={
            <>
              Your local time
              {at !== undefined && !Number.isNaN(at.getTime()) ? ` (${formatAbsolute(at)})` : ""}.
              The task waits as pending until then; at most 30 days ahead.
            </>
          }
        >
          {(aria) => (
            <input
              {...aria}
              type="datetime-local"
              value={value}
              min={localInputValue(Date.now())}
              max={localInputValue(Date.now() + RUN_AT_MAX_AHEAD_MS)}
              onChange={(e) => onChange(e.target.value)}
              className={inputClass}
            />
          )}
        </Field>
      )}
      {!later && error !== undefined && <p className="text-sm font-medium text-danger">{error}</p>}
    </fieldset>
  );
}
