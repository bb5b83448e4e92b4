import { useQuery } from "@connectrpc/connect-query";
import { type Template, TemplateService } from "@promptline/proto";
import { Link } from "react-router";
import { Field, inputClass } from "../Field";

/** Props for {@link TemplatePicker}. */
export interface TemplatePickerProps {
  /** Called with the chosen template; the form is filled from it. */
  onPick: (template: Template) => void;
}

// Enough for a select; a longer list is searched on the templates page.
const PICKER_SIZE = 200;

/**
 * "Start from a template" above the new-task form. Choosing one fills the
 * form with its prompts, model and parameters, with a row per variable to
 * fill in. Says nothing when there are no templates, or when they can't be
 * loaded: the form works without it.
 */
export function TemplatePicker({ onPick }: TemplatePickerProps) {
  const list = useQuery(TemplateService.method.listTemplates, { pageSize: PICKER_SIZE });
  const templates = list.data?.templates ?? [];
  if (templates.length === 0) return null;
  return (
    <div className="mb-6 max-w-xl rounded-xl border border-line bg-surface p-4 shadow-xs">
      <Field
        id="task-template"
        label="Start from a template"
        optional
        hint={
          <>
            Fills in the form below, replacing what is there.{" "}
            <Link to="/templates" className="underline">
              Manage templates
            </Link>
          </>
        }
      >
        {(aria) => (
          <select
            {...aria}
            value=""
            onChange={(e) => {
              const chosen = templates.find((t) => t.id === e.target.value);
              if (chosen !== undefined) onPick(chosen);
            }}
            className={inputClass}
          >
            <option value="">Choose a template…</option>
            {templates.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
                {t.variables.length > 0 ? ` · ${t.variables.map((v) => v.name).join(", ")}` : ""}
              </option>
            ))}
          </select>
        )}
      </Field>
    </div>
  );
}
