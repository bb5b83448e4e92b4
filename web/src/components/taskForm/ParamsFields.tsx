import type { DraftErrors, TaskDraft } from "../../taskDraft";
import { Field, inputClass } from "../Field";
import { controlIds } from "./controls";

type ParamKey = "temperature" | "topP" | "maxTokens" | "seed" | "stop";

/** Props for {@link ParamsFields}. */
export interface ParamsFieldsProps {
  draft: Pick<TaskDraft, ParamKey>;
  errors: DraftErrors;
  onChange: (key: ParamKey, value: string) => void;
}

/** The sampling parameters, each left empty for the model's default. */
export function ParamsFields({ draft, errors, onChange }: ParamsFieldsProps) {
  return (
    <fieldset>
      <legend className="text-sm font-semibold">Parameters</legend>
      <p className="text-xs text-fg-subtle">Leave a field empty to use the model's default.</p>
      {errors.params && <p className="mt-1 text-sm font-medium text-danger">{errors.params}</p>}
      <div className="mt-4 grid grid-cols-2 gap-4">
        <NumberField
          id={controlIds.temperature}
          label="Temperature"
          hint="Usually 0–2. Empty = the model's default."
          value={draft.temperature}
          onChange={(v) => onChange("temperature", v)}
          error={errors.temperature}
          decimal
        />
        <NumberField
          id={controlIds.top_p}
          label="Top P"
          hint="0–1. Empty = the model's default."
          value={draft.topP}
          onChange={(v) => onChange("topP", v)}
          error={errors.top_p}
          decimal
        />
        <NumberField
          id={controlIds.max_tokens}
          label="Max tokens"
          hint="Empty = the model's default."
          value={draft.maxTokens}
          onChange={(v) => onChange("maxTokens", v)}
          error={errors.max_tokens}
        />
        <NumberField
          id={controlIds.seed}
          label="Seed"
          hint="Empty = the model's default."
          value={draft.seed}
          onChange={(v) => onChange("seed", v)}
          error={errors.seed}
        />
      </div>
      <Field
        className="mt-4"
        id={controlIds.stop}
        label="Stop sequences"
        hint="One per line. Empty = the model's default."
        error={errors.stop}
      >
        {(aria) => (
          <textarea
            {...aria}
            rows={2}
            value={draft.stop}
            onChange={(e) => onChange("stop", e.target.value)}
            className={`${inputClass} resize-y font-mono`}
          />
        )}
      </Field>
    </fieldset>
  );
}

interface NumberFieldProps {
  id: string;
  label: string;
  hint: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  /** Allow a decimal point (temperature, top P); otherwise whole numbers. */
  decimal?: boolean;
}

function NumberField({ id, label, hint, value, onChange, error, decimal }: NumberFieldProps) {
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(aria) => (
        <input
          {...aria}
          type="text"
          inputMode={decimal ? "decimal" : "numeric"}
          autoComplete="off"
          value={value}
          onChange={(e) => onChange(e.target.value)}
          className={`${inputClass} tabular-nums`}
        />
      )}
    </Field>
  );
}
