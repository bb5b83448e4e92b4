import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { type Task, TaskService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { serverDraftErrors } from "../../draftErrors";
import { formLevelError } from "../../errors";
import { PRIORITIES, priorityLabel } from "../../format";
import {
  applyParentOutputMode,
  type DraftErrors,
  type DraftField,
  type ParentOutputMode,
  type RowErrorKey,
  sentDependencies,
  sentVars,
  type TaskDraft,
  toCreateRequest,
  validateDraft,
} from "../../taskDraft";
import { useOpenCreatedTask } from "../../useOpenCreatedTask";
import { Button, buttonClass } from "../Button";
import { Disclosure } from "../Disclosure";
import { ErrorNotice } from "../ErrorNotice";
import { Field, inputClass } from "../Field";
import { controlIds, type ErrorTarget, type FormSection, firstError } from "./controls";
import { DependencyFields } from "./DependencyFields";
import { ModelPicker } from "./ModelPicker";
import { ParamsFields } from "./ParamsFields";
import { ParentField } from "./ParentField";
import { ScheduleField } from "./ScheduleField";
import { VarFields } from "./VarFields";

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
  parentTaskId: "parent_task_id",
  dependsOn: "depends_on",
  vars: "vars",
  runAt: "run_at",
  metadata: "metadata",
};

const PARAMS: readonly DraftField[] = ["temperature", "top_p", "max_tokens", "seed", "stop"];

/** Props for {@link TaskForm}. */
export interface TaskFormProps {
  /** The values to start from: blank, a duplicate, or a child of `parent`. */
  initial: TaskDraft;
  /** The task `initial.parentTaskId` names, when it was loaded. */
  parent?: Task | undefined;
}

/**
 * The create form. Checks only the obvious on the client; the server's
 * InvalidArgument reasons show next to the control they name (a dependency
 * row, a variable, the prompt for a bad reference). On success it opens the
 * new task's page.
 */
export function TaskForm({ initial, parent }: TaskFormProps) {
  const openCreatedTask = useOpenCreatedTask();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<TaskDraft>(initial);
  const [errors, setErrors] = useState<DraftErrors>({});
  const [formError, setFormError] = useState<unknown>(undefined);
  const [outputMode, setOutputMode] = useState<ParentOutputMode>("reference");
  const [open, setOpen] = useState<Record<FormSection, boolean>>({
    system: initial.systemPrompt.trim() !== "",
    depends_on: initial.dependsOn.length > 0,
    vars: initial.vars.length > 0,
  });
  const [focusTarget, setFocusTarget] = useState<ErrorTarget | undefined>(undefined);
  // The draft as sent: server errors name its rows by their index in the request.
  const sent = useRef<TaskDraft>(initial);

  const models = useQuery(TaskService.method.listModels, {});
  const modelList = models.data?.models ?? [];
  // Until the person picks one, the first model is the choice: the common case is one click.
  const modelId = draft.model !== "" ? draft.model : (modelList[0]?.id ?? "");

  useEffect(() => {
    if (focusTarget === undefined) return;
    const { section, controlId } = focusTarget;
    if (section !== undefined) setOpen((o) => (o[section] ? o : { ...o, [section]: true }));
    // After the render that shows the error (and opens a folded section).
    requestAnimationFrame(() => document.getElementById(controlId)?.focus());
    setFocusTarget(undefined);
  }, [focusTarget]);

  const createTask = useMutation(TaskService.method.createTask, {
    onSuccess: async (res) => {
      const task = res.task;
      if (task === undefined) {
        setFormError(new ConnectError("the server's answer had no task", Code.Internal));
        return;
      }
      await openCreatedTask(task);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({
          schema: TaskService.method.listTasks,
          cardinality: undefined,
        }),
      });
    },
    onError: (err) => {
      const parsed = serverDraftErrors(err, sent.current);
      const target = firstError(parsed.errors, sent.current);
      setErrors(parsed.errors);
      // Reasons that name a control show there; anything else goes above the buttons.
      setFormError(formLevelError(err, parsed.other, target !== undefined));
      setFocusTarget(target);
    },
  });

  const clearErrors = (...keys: Array<DraftField | RowErrorKey>) => {
    setErrors((e) => {
      if (!keys.some((k) => e[k] !== undefined)) return e;
      const next = { ...e };
      for (const k of keys) delete next[k];
      return next;
    });
  };

  const update = <K extends keyof TaskDraft>(key: K, value: TaskDraft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    const field = fieldOf[key];
    clearErrors(field, ...(PARAMS.includes(field) ? (["params"] as const) : []));
  };

  const changeOutputMode = (mode: ParentOutputMode) => {
    setOutputMode(mode);
    update("prompt", applyParentOutputMode(draft.prompt, parent?.output ?? "", mode));
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (createTask.isPending) return;
    setFormError(undefined);
    const ready = { ...draft, model: modelId };
    const found = validateDraft(ready);
    setErrors(found);
    const target = firstError(found, ready);
    if (target !== undefined) {
      setFocusTarget(target);
      return;
    }
    sent.current = ready;
    createTask.mutate(toCreateRequest(ready));
  };

  const depCount = sentDependencies(draft).length;
  const varCount = sentVars(draft).length;
  const noModels = models.isSuccess && modelList.length === 0;

  return (
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

        {draft.parentTaskId !== "" && (
          <ParentField
            parentId={draft.parentTaskId}
            parent={parent?.id === draft.parentTaskId ? parent : undefined}
            mode={outputMode}
            onModeChange={changeOutputMode}
            onRemove={() => update("parentTaskId", "")}
            error={errors.parent_task_id}
          />
        )}

        <Field
          id={controlIds.prompt}
          label="Prompt"
          error={errors.prompt}
          hint={
            <>
              The user message sent to the model. It can use{" "}
              <code className="font-mono">{"{{parent.output}}"}</code>,{" "}
              <code className="font-mono">{"{{deps.<name>.output}}"}</code> and{" "}
              <code className="font-mono">{"{{vars.<name>}}"}</code>, filled in when the task runs.
            </>
          }
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

        <Disclosure
          title="System message"
          note={`optional${draft.systemPrompt.trim() !== "" && !open.system ? " · set" : ""}`}
          open={open.system}
          onToggle={(o) => setOpen((s) => ({ ...s, system: o }))}
        >
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
        </Disclosure>

        <Disclosure
          title="Wait for other tasks"
          note={`optional${depCount > 0 ? ` · ${depCount === 1 ? "1 task" : `${depCount} tasks`}` : ""}`}
          open={open.depends_on}
          onToggle={(o) => setOpen((s) => ({ ...s, depends_on: o }))}
          testId="task-dependencies"
        >
          <DependencyFields
            rows={draft.dependsOn}
            errors={errors}
            onChange={(rows) => update("dependsOn", rows)}
            onEdit={(key) => clearErrors(key, "depends_on")}
            active={open.depends_on}
          />
        </Disclosure>

        <Disclosure
          title="Variables"
          note={`optional${varCount > 0 ? ` · ${varCount}` : ""}`}
          open={open.vars}
          onToggle={(o) => setOpen((s) => ({ ...s, vars: o }))}
          testId="task-vars"
        >
          <VarFields
            rows={draft.vars}
            errors={errors}
            onChange={(rows) => update("vars", rows)}
            onEdit={(key) => clearErrors(key, "vars")}
          />
        </Disclosure>
      </div>

      <div className="space-y-5">
        <div className="space-y-5 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
          <ModelPicker
            id={controlIds.model}
            models={modelList}
            loading={models.isPending}
            loadError={models.isError ? models.error : undefined}
            onRetry={() => void models.refetch()}
            value={modelId}
            onChange={(id) => update("model", id)}
            error={errors.model}
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

          <ScheduleField
            value={draft.runAt}
            onChange={(v) => update("runAt", v)}
            error={errors.run_at}
          />

          <Field
            id={controlIds.metadata}
            label="Labels"
            optional
            error={errors.metadata}
            hint="key:value pairs separated by spaces, e.g. team:red area:search. Kept with the task as its metadata; the task list filters by them."
          >
            {(aria) => (
              <input
                {...aria}
                type="text"
                autoComplete="off"
                spellCheck={false}
                value={draft.metadata}
                onChange={(e) => update("metadata", e.target.value)}
                placeholder="team:red"
                className={`${inputClass} font-mono`}
              />
            )}
          </Field>
        </div>

        <div className="rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
          <ParamsFields draft={draft} errors={errors} onChange={update} />
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
  );
}
