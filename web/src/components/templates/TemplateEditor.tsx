import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import {
  GetTemplateResponseSchema,
  TaskService,
  type Template,
  TemplateService,
} from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate } from "react-router";
import { transport } from "../../api";
import { formLevelError } from "../../errors";
import { Button, buttonClass } from "../Button";
import { ErrorNotice } from "../ErrorNotice";
import { Field, inputClass } from "../Field";
import { controlIds } from "../taskForm/controls";
import { ModelPicker } from "../taskForm/ModelPicker";
import { ParamsFields } from "../taskForm/ParamsFields";
import { TemplatePreview } from "./TemplatePreview";
import {
  detectVariables,
  serverTemplateErrors,
  TEMPLATE_FIELDS,
  type TemplateErrors,
  type TemplateField,
  type TemplateFormDraft,
  toTemplateRequest,
  type VariableInfo,
  validateTemplateDraft,
} from "./templateDraft";

const PARAM_FIELDS = new Set<TemplateField>(["temperature", "top_p", "max_tokens", "seed", "stop"]);

/** The control that shows a field's error. The parameters are the task form's own controls. */
function controlId(field: TemplateField): string {
  switch (field) {
    case "params":
    case "temperature":
    case "top_p":
    case "max_tokens":
    case "seed":
    case "stop":
      return controlIds[field];
    case "variables":
      return "template-prompt";
    default:
      return `template-${field.replace("_", "-")}`;
  }
}

function focusField(field: TemplateField): void {
  document.getElementById(controlId(field))?.focus();
}

/** Props for {@link TemplateEditor}. */
export interface TemplateEditorProps {
  initial: TemplateFormDraft;
  /** The stored template being edited; undefined creates a new one. */
  template?: Template | undefined;
}

/**
 * The template form: name, description, prompts, the variables found in the
 * prompts (`{{vars.<name>}}`) with a description and default each, model and
 * parameters, and a live preview rendered by the server. Saving a new
 * template opens its page; saving an edit sends the etag it started from, so
 * someone else's change in between is not overwritten.
 */
export function TemplateEditor({ initial, template }: TemplateEditorProps) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState(initial);
  const [errors, setErrors] = useState<TemplateErrors>({});
  const [formError, setFormError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const [samples, setSamples] = useState<Record<string, string>>({});
  // The version this form started from (then the one it saved), not whatever a refetch brings:
  // a change someone else made meanwhile must be refused, not overwritten.
  const [etag, setEtag] = useState(template?.etag ?? "");

  const models = useQuery(TaskService.method.listModels, {});
  const modelList = models.data?.models ?? [];
  const modelId = draft.model !== "" ? draft.model : (modelList[0]?.id ?? "");
  const variables = detectVariables(draft.prompt, draft.systemPrompt);

  const onSaved = async (stored: Template | undefined) => {
    if (stored === undefined) {
      setFormError(new ConnectError("the server's answer had no template", Code.Internal));
      return;
    }
    queryClient.setQueryData(
      createConnectQueryKey({
        schema: TemplateService.method.getTemplate,
        input: { id: stored.id },
        transport,
        cardinality: "finite",
      }),
      create(GetTemplateResponseSchema, { template: stored }),
    );
    await queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({
        schema: TemplateService.method.listTemplates,
        cardinality: undefined,
      }),
    });
    if (template === undefined) await navigate(`/templates/${stored.id}`);
    else {
      setEtag(stored.etag);
      setSaved(true);
    }
  };
  const onError = (err: unknown) => {
    const parsed = serverTemplateErrors(err);
    setErrors(parsed.errors);
    const first = TEMPLATE_FIELDS.find((f) => parsed.errors[f] !== undefined);
    // After the render that shows the reason beside it.
    if (first !== undefined) requestAnimationFrame(() => focusField(first));
    setFormError(formLevelError(err, parsed.other, first !== undefined));
  };
  const createTemplate = useMutation(TemplateService.method.createTemplate, {
    onSuccess: (res) => onSaved(res.template),
    onError,
  });
  const updateTemplate = useMutation(TemplateService.method.updateTemplate, {
    onSuccess: (res) => onSaved(res.template),
    onError,
  });
  const pending = createTemplate.isPending || updateTemplate.isPending;

  const update = <K extends keyof TemplateFormDraft>(
    key: K,
    value: TemplateFormDraft[K],
    field?: TemplateField,
  ) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setSaved(false);
    if (field !== undefined) {
      setErrors((e) => {
        const next = { ...e };
        delete next[field];
        if (PARAM_FIELDS.has(field)) delete next.params;
        return next;
      });
    }
  };

  const updateVariable = (name: string, info: Partial<VariableInfo>) => {
    const current = draft.variables[name] ?? { description: "", defaultValue: "" };
    update("variables", { ...draft.variables, [name]: { ...current, ...info } }, "variables");
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (pending) return;
    setFormError(undefined);
    const ready = { ...draft, model: modelId };
    const found = validateTemplateDraft(ready);
    setErrors(found);
    const first = TEMPLATE_FIELDS.find((f) => found[f] !== undefined);
    if (first !== undefined) {
      focusField(first);
      return;
    }
    const request = toTemplateRequest(ready);
    if (template === undefined) createTemplate.mutate(request);
    else {
      // No mask: the form holds every field. The etag refuses a lost update.
      updateTemplate.mutate({ template: { ...request, id: template.id, etag } });
    }
  };

  return (
    <form noValidate onSubmit={submit} className="space-y-6">
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_24rem] lg:items-start">
        <div className="space-y-5 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
          <Field id="template-name" label="Name" error={errors.name}>
            {(aria) => (
              <input
                {...aria}
                type="text"
                autoComplete="off"
                value={draft.name}
                onChange={(e) => update("name", e.target.value, "name")}
                placeholder="e.g. Release notes summary"
                className={inputClass}
              />
            )}
          </Field>
          <Field id="template-description" label="Description" optional error={errors.description}>
            {(aria) => (
              <input
                {...aria}
                type="text"
                autoComplete="off"
                value={draft.description}
                onChange={(e) => update("description", e.target.value, "description")}
                placeholder="What it is for"
                className={inputClass}
              />
            )}
          </Field>
          <Field
            id="template-prompt"
            label="Prompt"
            error={errors.prompt}
            hint={
              <>
                Put a variable in with <code className="font-mono">{"{{vars.<name>}}"}</code>; each
                one gets an input when the template is run.
              </>
            }
          >
            {(aria) => (
              <textarea
                {...aria}
                rows={8}
                value={draft.prompt}
                onChange={(e) => update("prompt", e.target.value, "prompt")}
                placeholder="Summarise {{vars.text}} for {{vars.audience}}"
                className={`${inputClass} min-h-40 resize-y font-mono`}
              />
            )}
          </Field>
          <Field
            id="template-system-prompt"
            label="System message"
            optional
            error={errors.system_prompt}
          >
            {(aria) => (
              <textarea
                {...aria}
                rows={3}
                value={draft.systemPrompt}
                onChange={(e) => update("systemPrompt", e.target.value, "system_prompt")}
                placeholder="You are a concise assistant…"
                className={`${inputClass} resize-y font-mono`}
              />
            )}
          </Field>
          <fieldset className="space-y-3" aria-describedby="template-variables-help">
            <legend className="text-sm font-semibold">Variables</legend>
            <p id="template-variables-help" className="text-xs text-fg-subtle">
              {variables.length === 0
                ? "None yet: they are found in the prompts as you type."
                : "Found in the prompts. A variable without a default must be given a value when the template runs."}
            </p>
            {errors.variables && (
              <p className="text-sm font-medium text-danger">{errors.variables}</p>
            )}
            {variables.map((name) => (
              <div
                key={name}
                data-testid="template-variable"
                className="grid gap-3 rounded-lg border border-line p-3 sm:grid-cols-[8rem_1fr_1fr] sm:items-start"
              >
                <code className="pt-2 font-mono text-sm font-semibold break-all">{name}</code>
                <Field id={`template-var-${name}-description`} label="Description" optional>
                  {(aria) => (
                    <input
                      {...aria}
                      type="text"
                      autoComplete="off"
                      value={draft.variables[name]?.description ?? ""}
                      onChange={(e) => updateVariable(name, { description: e.target.value })}
                      className={inputClass}
                    />
                  )}
                </Field>
                <Field id={`template-var-${name}-default`} label="Default" optional>
                  {(aria) => (
                    <input
                      {...aria}
                      type="text"
                      autoComplete="off"
                      value={draft.variables[name]?.defaultValue ?? ""}
                      onChange={(e) => updateVariable(name, { defaultValue: e.target.value })}
                      className={inputClass}
                    />
                  )}
                </Field>
              </div>
            ))}
          </fieldset>
        </div>

        <div className="space-y-5">
          <div className="rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
            <ModelPicker
              id="template-model"
              models={modelList}
              loading={models.isPending}
              loadError={models.isError ? models.error : undefined}
              onRetry={() => void models.refetch()}
              value={modelId}
              onChange={(id) => update("model", id, "model")}
              error={errors.model}
            />
          </div>
          <div className="rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
            <ParamsFields
              draft={draft}
              errors={errors}
              onChange={(key, value) =>
                update(
                  key,
                  value,
                  key === "topP" ? "top_p" : key === "maxTokens" ? "max_tokens" : key,
                )
              }
            />
          </div>
        </div>
      </div>

      <TemplatePreview draft={draft} samples={samples} onSamplesChange={setSamples} />

      <div className="space-y-4">
        {formError !== undefined && (
          <ErrorNotice
            error={formError}
            context={
              template === undefined ? "The template was not created" : "The template was not saved"
            }
          />
        )}
        <div className="flex flex-col-reverse gap-2 sm:flex-row sm:items-center sm:justify-end">
          {saved && (
            <p role="status" className="text-sm text-fg-muted sm:me-auto">
              Saved.
            </p>
          )}
          <Link to="/templates" className={buttonClass("ghost")}>
            {template === undefined ? "Cancel" : "Back to templates"}
          </Link>
          <Button type="submit" variant="primary" disabled={pending}>
            {pending ? "Saving…" : template === undefined ? "Create template" : "Save changes"}
          </Button>
        </div>
      </div>
    </form>
  );
}
