import { useQuery } from "@connectrpc/connect-query";
import { TemplateService } from "@promptline/proto";
import { keepPreviousData } from "@tanstack/react-query";
import { useDeferredValue } from "react";
import { fieldErrorParts } from "../../errors";
import { ErrorNotice } from "../ErrorNotice";
import { Field, inputClass } from "../Field";
import { Panel } from "../Panel";
import { type TemplateFormDraft, toRenderDraft } from "./templateDraft";
import { VariableInputs } from "./VariableInputs";

/** Props for {@link TemplatePreview}. */
export interface TemplatePreviewProps {
  draft: TemplateFormDraft;
  /** Sample values by variable name; empty ones take the variable's default. */
  samples: Record<string, string>;
  onSamplesChange: (samples: Record<string, string>) => void;
}

/**
 * The prompts as a task would send them, rendered by the server
 * (RenderTemplate) from the draft being edited and sample values, so what
 * is shown is what runs. Why it can't render (a variable with no value and no
 * default) shows in place of the preview.
 */
export function TemplatePreview({ draft, samples, onSamplesChange }: TemplatePreviewProps) {
  const variables = toRenderDraft(draft).variables ?? [];
  // Typing stays responsive; the preview catches up with the last keystroke.
  const request = useDeferredValue({
    source: { case: "draft" as const, value: toRenderDraft(draft) },
    vars: Object.fromEntries(Object.entries(samples).filter(([, v]) => v !== "")),
  });
  const preview = useQuery(TemplateService.method.renderTemplate, request, {
    placeholderData: keepPreviousData,
    enabled: draft.prompt.trim() !== "",
    retry: false,
  });
  const reasons = fieldErrorParts(preview.error);
  return (
    <Panel title="Preview">
      <div className="space-y-4">
        <VariableInputs
          idPrefix="template-sample"
          variables={variables}
          values={samples}
          onChange={onSamplesChange}
          labelSuffix="sample"
        />
        {draft.prompt.trim() === "" ? (
          <p className="text-sm text-fg-subtle">Write a prompt to see it rendered here.</p>
        ) : preview.isError && reasons.length > 0 ? (
          <div
            role="status"
            aria-label="Why the preview can't render"
            className="text-sm text-danger"
          >
            <ul className="space-y-1">
              {reasons.map((r) => (
                <li key={`${r.path}:${r.reason}`}>
                  {r.path === undefined ? r.reason : `${r.path}: ${r.reason}`}
                </li>
              ))}
            </ul>
          </div>
        ) : preview.isError ? (
          <ErrorNotice error={preview.error} context="Couldn't render the preview" />
        ) : (
          <div className="space-y-3" aria-busy={preview.isFetching}>
            {preview.data !== undefined && preview.data.systemPrompt !== "" && (
              <Field id="template-preview-system" label="System message">
                {(aria) => (
                  <output
                    {...aria}
                    data-testid="template-preview-system"
                    className={`${inputClass} block whitespace-pre-wrap font-mono`}
                  >
                    {preview.data.systemPrompt}
                  </output>
                )}
              </Field>
            )}
            <Field id="template-preview-prompt" label="Prompt">
              {(aria) => (
                <output
                  {...aria}
                  data-testid="template-preview"
                  className={`${inputClass} block min-h-16 whitespace-pre-wrap font-mono`}
                >
                  {preview.data?.prompt ?? ""}
                </output>
              )}
            </Field>
          </div>
        )}
      </div>
    </Panel>
  );
}
