import type { MessageInitShape } from "@bufbuild/protobuf";
import type { TemplateVariableSchema } from "@promptline/proto";
import { Field, inputClass } from "../Field";

type Variable = MessageInitShape<typeof TemplateVariableSchema>;

/** Props for {@link VariableInputs}. */
export interface VariableInputsProps {
  /** Prefix of each input's id; the variable's name follows. */
  idPrefix: string;
  variables: readonly Variable[];
  /** By variable name. */
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
  /** Added after the name in each label, e.g. "sample". */
  labelSuffix?: string;
  /** Reasons by variable name, from the server (`vars.<name>: …`). */
  errors?: Record<string, string>;
}

/**
 * One input per template variable, labelled with its name, its description
 * as help, and its default as the placeholder: leaving an input empty uses
 * the default, and one without a default must be filled in.
 */
export function VariableInputs(props: VariableInputsProps) {
  const { idPrefix, variables, values, onChange, labelSuffix, errors } = props;
  if (variables.length === 0) {
    return <p className="text-sm text-fg-subtle">This template has no variables.</p>;
  }
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      {variables.map((v) => {
        const name = v.name ?? "";
        const hasDefault = v.defaultValue !== undefined && v.defaultValue !== "";
        return (
          <Field
            key={name}
            id={`${idPrefix}-${name}`}
            label={labelSuffix === undefined ? name : `${name} (${labelSuffix})`}
            optional={hasDefault}
            error={errors?.[name]}
            hint={v.description !== undefined && v.description !== "" ? v.description : undefined}
          >
            {(aria) => (
              <textarea
                {...aria}
                rows={1}
                value={values[name] ?? ""}
                placeholder={hasDefault ? `Default: ${v.defaultValue}` : "Required"}
                onChange={(e) => onChange({ ...values, [name]: e.target.value })}
                className={`${inputClass} resize-y`}
              />
            )}
          </Field>
        );
      })}
    </div>
  );
}
