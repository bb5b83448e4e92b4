import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { GetTaskResponseSchema, type Model, TaskService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Link, useNavigate } from "react-router";
import { transport } from "../api";
import { Button, buttonClass } from "../components/Button";
import { ErrorNotice } from "../components/ErrorNotice";
import { Field, inputClass } from "../components/Field";
import { PageHeader } from "../components/PageHeader";
import { Skeleton } from "../components/Skeleton";
import { parseFieldErrors } from "../errors";
import { formatContextLength, PRIORITIES, priorityLabel } from "../format";
import {
  DRAFT_FIELDS,
  type DraftErrors,
  type DraftField,
  emptyDraft,
  type TaskDraft,
  toCreateRequest,
  validateDraft,
} from "../taskDraft";

/** Where each field's control lives, to focus the first one that needs fixing. */
const controlIds: Record<DraftField, string> = {
  name: "task-name",
  prompt: "task-prompt",
  system_prompt: "task-system-prompt",
  model: "task-model",
  priority: "task-priority-normal",
  params: "task-temperature",
  temperature: "task-temperature",
  top_p: "task-top-p",
  max_tokens: "task-max-tokens",
  seed: "task-seed",
  stop: "task-stop",
};

/** Which error each draft property clears when edited. */
const fieldOf: Record<keyof TaskDraft, DraftField> = {
  name: "name",
  prompt: "prompt",
  systemPrompt: "system_prompt",
  model: "model",
  priority: "priority",
  temperature: "temperature",
  topP: "top_p",
  maxTokens: "max_tokens",
  seed: "seed",
  stop: "stop",
};

/** The simulator notice's exact words, which browser tests look for. */
export const SIMULATOR_NOTICE =
  "No NVIDIA_API_KEY set: tasks run on the built-in simulator, not a real LLM";

/**
 * The create form. Checks only the obvious on the client; the server's
 * InvalidArgument field errors ("field: reason") show under the named field.
 * On success it opens the new task's page.
 */
export function NewTaskPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<TaskDraft>(emptyDraft);
  const [errors, setErrors] = useState<DraftErrors>({});
  const [formError, setFormError] = useState<unknown>(undefined);
  const [systemOpen, setSystemOpen] = useState(false);
  const [focusField, setFocusField] = useState<DraftField | undefined>(undefined);

  const models = useQuery(TaskService.method.listModels, {});
  const modelList = models.data?.models ?? [];
  // Until the person picks one, the first model is the choice: the common case is one click.
  const modelId = draft.model !== "" ? draft.model : (modelList[0]?.id ?? "");

  useEffect(() => {
    if (focusField === undefined) return;
    if (focusField === "system_prompt") setSystemOpen(true);
    // After the render that shows the error (and opens a closed section).
    requestAnimationFrame(() => document.getElementById(controlIds[focusField])?.focus());
    setFocusField(undefined);
  }, [focusField]);

  const createTask = useMutation(TaskService.method.createTask, {
    onSuccess: async (res) => {
      const task = res.task;
      if (task === undefined) {
        setFormError(new ConnectError("the server's answer had no task", Code.Internal));
        return;
      }
      queryClient.setQueryData(
        createConnectQueryKey({
          schema: TaskService.method.getTask,
          input: { id: task.id },
          transport,
          cardinality: "finite",
        }),
        create(GetTaskResponseSchema, { task }),
      );
      await navigate(`/tasks/${task.id}`);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({
          schema: TaskService.method.listTasks,
          cardinality: undefined,
        }),
      });
    },
    onError: (err) => {
      const parsed = parseFieldErrors(err, DRAFT_FIELDS);
      const first = DRAFT_FIELDS.find((f) => parsed.fields[f] !== undefined);
      setErrors(parsed.fields);
      // Field errors show under their fields; anything else goes above the buttons.
      if (parsed.other.length > 0) {
        setFormError(new ConnectError(parsed.other.join("; "), Code.InvalidArgument));
      } else {
        setFormError(first === undefined ? err : undefined);
      }
      setFocusField(first);
    },
  });

  const update = <K extends keyof TaskDraft>(key: K, value: TaskDraft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    const field = fieldOf[key];
    setErrors((e) => {
      const stale = e[field] !== undefined || (isParam(field) && e.params !== undefined);
      if (!stale) return e;
      return { ...e, [field]: undefined, ...(isParam(field) ? { params: undefined } : {}) };
    });
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (createTask.isPending) return;
    setFormError(undefined);
    const ready = { ...draft, model: modelId };
    const found = validateDraft(ready);
    setErrors(found);
    const first = DRAFT_FIELDS.find((f) => found[f] !== undefined);
    if (first !== undefined) {
      setFocusField(first);
      return;
    }
    createTask.mutate(toCreateRequest(ready));
  };

  const selected = modelList.find((m) => m.id === modelId);
  const allSimulated = modelList.length > 0 && modelList.every((m) => m.simulated);
  const noModels = models.isSuccess && modelList.length === 0;

  return (
    <>
      <title>New task · Promptline</title>
      <PageHeader
        title="New task"
        description="Write a prompt, pick a model, and Promptline runs it in the background."
      />
      <form
        noValidate
        onSubmit={submit}
        className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_24rem] lg:items-start"
      >
        <div className="space-y-5 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
          <Field id={controlIds.name} label="Name" optional error={errors.name}>
            {(aria) => (
              <input
                {...aria}
                type="text"
                autoComplete="off"
                maxLength={400}
                value={draft.name}
                onChange={(e) => update("name", e.target.value)}
                placeholder="e.g. Summarise release notes"
                className={inputClass}
              />
            )}
          </Field>

          <Field
            id={controlIds.prompt}
            label="Prompt"
            error={errors.prompt}
            hint="The user message sent to the model."
          >
            {(aria) => (
              <textarea
                {...aria}
                required
                rows={8}
                value={draft.prompt}
                onChange={(e) => update("prompt", e.target.value)}
                placeholder="Ask the model something…"
                className={`${inputClass} min-h-40 resize-y font-mono`}
              />
            )}
          </Field>

          <details
            open={systemOpen}
            onToggle={(e) => setSystemOpen(e.currentTarget.open)}
            className="group rounded-lg border border-line"
          >
            <summary className="flex cursor-pointer list-none items-center justify-between gap-2 rounded-lg px-3 py-2.5 text-sm font-medium select-none hover:bg-sunken [&::-webkit-details-marker]:hidden">
              <span>
                System message{" "}
                <span className="text-xs font-normal text-fg-subtle">
                  optional{draft.systemPrompt.trim() !== "" && !systemOpen ? " · set" : ""}
                </span>
              </span>
              <svg
                aria-hidden="true"
                viewBox="0 0 20 20"
                fill="currentColor"
                className="size-4 text-fg-subtle transition-transform group-open:rotate-180"
              >
                <path
                  fillRule="evenodd"
                  d="M5.2 7.2a.75.75 0 0 1 1.06 0L10 10.94l3.74-3.74a.75.75 0 1 1 1.06 1.06l-4.27 4.27a.75.75 0 0 1-1.06 0L5.2 8.26a.75.75 0 0 1 0-1.06Z"
                  clipRule="evenodd"
                />
              </svg>
            </summary>
            <div className="border-t border-line p-3">
              <Field
                id={controlIds.system_prompt}
                label="System message"
                error={errors.system_prompt}
                hint="Sent as the system prompt: instructions the model follows for the whole conversation."
              >
                {(aria) => (
                  <textarea
                    {...aria}
                    rows={4}
                    value={draft.systemPrompt}
                    onChange={(e) => update("systemPrompt", e.target.value)}
                    placeholder="You are a concise assistant…"
                    className={`${inputClass} resize-y font-mono`}
                  />
                )}
              </Field>
            </div>
          </details>
        </div>

        <div className="space-y-5">
          <div className="space-y-5 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
            <ModelPicker
              models={modelList}
              loading={models.isPending}
              loadError={models.isError ? models.error : undefined}
              onRetry={() => void models.refetch()}
              value={modelId}
              onChange={(id) => update("model", id)}
              error={errors.model}
              selected={selected}
              allSimulated={allSimulated}
              noModels={noModels}
            />

            <fieldset className="space-y-1.5">
              <legend className="mb-1.5 text-sm font-medium">Priority</legend>
              <div className="grid grid-cols-4 gap-1 rounded-lg bg-sunken p-1">
                {PRIORITIES.map((p) => {
                  const label = priorityLabel(p);
                  return (
                    <label key={p} className="relative">
                      <input
                        id={`task-priority-${label}`}
                        type="radio"
                        name="priority"
                        value={label}
                        checked={draft.priority === p}
                        onChange={() => update("priority", p)}
                        className="peer absolute inset-0 z-10 cursor-pointer appearance-none opacity-0"
                      />
                      <span className="block cursor-pointer rounded-md px-1 py-1.5 text-center text-sm font-medium text-fg-muted capitalize transition-colors peer-checked:bg-surface peer-checked:text-fg peer-checked:shadow-sm peer-focus-visible:outline-2 peer-focus-visible:outline-focus hover:text-fg">
                        {label}
                      </span>
                    </label>
                  );
                })}
              </div>
              {errors.priority && (
                <p className="text-sm font-medium text-danger">{errors.priority}</p>
              )}
            </fieldset>
          </div>

          <div className="rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
            <fieldset>
              <legend className="text-sm font-semibold">Parameters</legend>
              <p className="text-xs text-fg-subtle">
                Leave a field empty to use the model's default.
              </p>
              {errors.params && (
                <p className="mt-1 text-sm font-medium text-danger">{errors.params}</p>
              )}
              <div className="mt-4 grid grid-cols-2 gap-4">
                <NumberField
                  id={controlIds.temperature}
                  label="Temperature"
                  hint="Usually 0–2. Empty = the model's default."
                  value={draft.temperature}
                  onChange={(v) => update("temperature", v)}
                  error={errors.temperature}
                  decimal
                />
                <NumberField
                  id={controlIds.top_p}
                  label="Top P"
                  hint="0–1. Empty = the model's default."
                  value={draft.topP}
                  onChange={(v) => update("topP", v)}
                  error={errors.top_p}
                  decimal
                />
                <NumberField
                  id={controlIds.max_tokens}
                  label="Max tokens"
                  hint="Empty = the model's default."
                  value={draft.maxTokens}
                  onChange={(v) => update("maxTokens", v)}
                  error={errors.max_tokens}
                />
                <NumberField
                  id={controlIds.seed}
                  label="Seed"
                  hint="Empty = the model's default."
                  value={draft.seed}
                  onChange={(v) => update("seed", v)}
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
                    onChange={(e) => update("stop", e.target.value)}
                    className={`${inputClass} resize-y font-mono`}
                  />
                )}
              </Field>
            </fieldset>
          </div>
        </div>

        <div className="space-y-4 lg:col-span-2">
          {formError !== undefined && (
            <ErrorNotice error={formError} context="The task was not created" />
          )}
          <div className="flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
            <Link to="/" className={buttonClass("ghost")}>
              Cancel
            </Link>
            <Button type="submit" variant="primary" disabled={createTask.isPending || noModels}>
              {createTask.isPending ? "Creating…" : "Create task"}
            </Button>
          </div>
        </div>
      </form>
    </>
  );
}

function isParam(field: DraftField): boolean {
  return (
    field === "temperature" ||
    field === "top_p" ||
    field === "max_tokens" ||
    field === "seed" ||
    field === "stop"
  );
}

interface ModelPickerProps {
  models: Model[];
  loading: boolean;
  loadError: unknown;
  onRetry: () => void;
  value: string;
  onChange: (id: string) => void;
  error: string | undefined;
  selected: Model | undefined;
  allSimulated: boolean;
  noModels: boolean;
}

function ModelPicker(props: ModelPickerProps) {
  const { models, loading, loadError, onRetry, value, onChange, error, selected } = props;
  if (loading) {
    return (
      <div className="space-y-1.5" role="status" aria-label="Loading choices">
        <Skeleton className="h-4 w-16" />
        <Skeleton className="h-10 w-full" />
      </div>
    );
  }
  if (loadError !== undefined) {
    return <ErrorNotice error={loadError} context="Couldn't load the models" onRetry={onRetry} />;
  }
  return (
    <div className="space-y-3">
      <Field
        id={controlIds.model}
        label="Model"
        error={error}
        hint={
          props.noModels
            ? "No models are available. Check the server's provider settings."
            : selected !== undefined
              ? describeModel(selected)
              : undefined
        }
      >
        {(aria) => (
          <select
            {...aria}
            value={value}
            disabled={props.noModels}
            onChange={(e) => onChange(e.target.value)}
            className={inputClass}
          >
            {value === "" && <option value="">Choose a model</option>}
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} · {m.provider} · {formatContextLength(m.contextLength)}
              </option>
            ))}
          </select>
        )}
      </Field>
      {props.allSimulated && (
        <p
          role="note"
          className="rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100"
        >
          {SIMULATOR_NOTICE}
        </p>
      )}
    </div>
  );
}

function describeModel(m: Model): string {
  const parts = [`Served by ${m.provider}`];
  if (m.ownedBy !== "" && m.ownedBy !== m.provider) parts.push(`owned by ${m.ownedBy}`);
  parts.push(formatContextLength(m.contextLength));
  if (m.simulated) parts.push("simulated");
  return parts.join(" · ");
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
