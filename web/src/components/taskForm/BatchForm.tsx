import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { type Task, TaskPriority, TaskService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { type ChangeEvent, useId, useMemo, useState } from "react";
import { Link } from "react-router";
import {
  BATCH_MAX,
  type BatchFormat,
  batchRequest,
  batchServerErrors,
  detectFormat,
  parseBatch,
  rowPriorityLabel,
} from "../../batchInput";
import { formatAbsolute, PRIORITIES, priorityLabel, taskTitle } from "../../format";
import { runAtError } from "../../taskDraft";
import { Button, buttonClass } from "../Button";
import { ErrorNotice } from "../ErrorNotice";
import { Field, inputClass } from "../Field";
import { controlIds } from "./controls";
import { ModelPicker } from "./ModelPicker";
import { ScheduleField } from "./ScheduleField";

const FORMATS: ReadonlyArray<{ format: BatchFormat; label: string }> = [
  { format: "lines", label: "One prompt per line" },
  { format: "csv", label: "CSV with a header row" },
  { format: "jsonl", label: "JSON Lines" },
];

const formatHints: Record<BatchFormat, string> = {
  lines: "Each non-empty line becomes a task with that prompt.",
  csv: 'Needs a "prompt" column; "name", "model", "priority", "system_prompt", "temperature", "top_p", "max_tokens" and "run_at" (e.g. 2026-12-01T09:00, your local time) are optional. Any other column is a variable: a "city" column fills {{vars.city}}.',
  jsonl:
    'One object per line: {"prompt": "…"}, with the same optional keys as a CSV and "vars": {"name": "value"}.',
};

/**
 * Many tasks at once: paste prompts or upload a CSV or JSON Lines file,
 * check the preview, then create them all in one BatchCreateTasks call (all
 * or nothing). Rows without a model or priority get the ones chosen here.
 */
export function BatchForm() {
  const ids = { text: useId(), file: useId(), format: useId(), priority: useId() };
  const queryClient = useQueryClient();
  const [text, setText] = useState("");
  const [format, setFormat] = useState<BatchFormat>("lines");
  const [fileName, setFileName] = useState("");
  const [model, setModel] = useState("");
  const [priority, setPriority] = useState<TaskPriority>(TaskPriority.NORMAL);
  const [runAt, setRunAt] = useState("");
  const [runAtProblem, setRunAtProblem] = useState<string | undefined>(undefined);
  const [created, setCreated] = useState<Task[] | undefined>(undefined);
  const [fileError, setFileError] = useState<string | undefined>(undefined);

  const models = useQuery(TaskService.method.listModels, {});
  const modelList = models.data?.models ?? [];
  const modelId = model !== "" ? model : (modelList[0]?.id ?? "");

  const parsed = useMemo(() => parseBatch(text, format), [text, format]);
  const createBatch = useMutation(TaskService.method.batchCreateTasks, {
    onSuccess: async (res) => {
      setCreated(res.tasks);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({
          schema: TaskService.method.listTasks,
          cardinality: undefined,
        }),
      });
    },
  });
  const server = createBatch.isError ? batchServerErrors(createBatch.error) : undefined;
  const rowErrors = parsed.rows.filter((r) => r.error !== undefined).length;
  const ready =
    parsed.rows.length > 0 && parsed.problems.length === 0 && rowErrors === 0 && modelId !== "";

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file === undefined) return;
    setFileError(undefined);
    try {
      const content = await file.text();
      setFileName(file.name);
      setFormat(detectFormat(content, file.name));
      setText(content);
      createBatch.reset();
    } catch {
      setFileError(`Couldn't read ${file.name}.`);
    }
  };

  if (created !== undefined) {
    return (
      <BatchCreated
        tasks={created}
        onAnother={() => {
          setCreated(undefined);
          setText("");
          setFileName("");
          createBatch.reset();
        }}
      />
    );
  }

  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!ready || createBatch.isPending) return;
        const problem = runAtError(runAt, Date.now());
        setRunAtProblem(problem);
        if (problem !== undefined) {
          document.getElementById(controlIds.run_at)?.focus();
          return;
        }
        createBatch.mutate(batchRequest(parsed.rows, { model: modelId, priority, runAt }));
      }}
      className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_24rem] lg:items-start"
    >
      <div className="min-w-0 space-y-5 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
        <div className="grid gap-4 sm:grid-cols-2">
          <Field id={ids.file} label="Upload a file" error={fileError}>
            {(aria) => (
              <input
                {...aria}
                type="file"
                accept=".csv,.jsonl,.ndjson,.txt,text/csv,application/jsonl"
                onChange={(e) => void onFile(e)}
                className="block w-full text-sm text-fg-muted file:mr-3 file:rounded-lg file:border file:border-line-strong file:bg-surface file:px-3 file:py-1.5 file:text-sm file:font-medium file:text-fg hover:file:bg-sunken"
              />
            )}
          </Field>
          <Field id={ids.format} label="Format">
            {(aria) => (
              <select
                {...aria}
                value={format}
                onChange={(e) => setFormat(e.target.value as BatchFormat)}
                className={inputClass}
              >
                {FORMATS.map((f) => (
                  <option key={f.format} value={f.format}>
                    {f.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <Field
          id={ids.text}
          label={fileName !== "" ? `Contents of ${fileName}` : "Or paste them"}
          hint={`${formatHints[format]} Up to ${BATCH_MAX} tasks per batch.`}
        >
          {(aria) => (
            <textarea
              {...aria}
              rows={10}
              value={text}
              onChange={(e) => {
                setText(e.target.value);
                createBatch.reset();
              }}
              placeholder={
                format === "lines"
                  ? "Summarise the history of Oslo\nSummarise the history of Lima"
                  : format === "csv"
                    ? "name,prompt,city\nOslo,Summarise the history of {{vars.city}},Oslo"
                    : '{"prompt": "Summarise the history of Oslo"}'
              }
              className={`${inputClass} resize-y font-mono`}
            />
          )}
        </Field>
        <BatchPreview
          parsed={parsed}
          serverErrors={server?.byRow}
          model={modelId}
          priority={priority}
          runAt={runAt}
        />
      </div>

      <div className="space-y-5 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6">
        <ModelPicker
          id="batch-model"
          models={modelList}
          loading={models.isPending}
          loadError={models.isError ? models.error : undefined}
          onRetry={() => void models.refetch()}
          value={modelId}
          onChange={setModel}
          error={undefined}
        />
        <p className="-mt-2 text-xs text-fg-subtle">For every row without its own model.</p>
        <Field id={ids.priority} label="Priority" hint="For every row without its own priority.">
          {(aria) => (
            <select
              {...aria}
              value={priorityLabel(priority)}
              onChange={(e) =>
                setPriority(
                  PRIORITIES.find((p) => priorityLabel(p) === e.target.value) ??
                    TaskPriority.NORMAL,
                )
              }
              className={inputClass}
            >
              {PRIORITIES.map((p) => (
                <option key={p} value={priorityLabel(p)}>
                  {priorityLabel(p)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ScheduleField
          value={runAt}
          onChange={(v) => {
            setRunAt(v);
            setRunAtProblem(undefined);
          }}
          error={runAtProblem}
        />
        <p className="-mt-3 text-xs text-fg-subtle">For every row without its own run_at column.</p>
      </div>

      <div className="space-y-4 lg:col-span-2">
        {createBatch.isError && (
          <ErrorNotice
            error={createBatch.error}
            context={
              server !== undefined && server.byRow.size > 0
                ? "No task was created: fix the rows marked in the preview"
                : "No task was created"
            }
          />
        )}
        <div className="flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
          <Link to="/" className={buttonClass("ghost")}>
            Cancel
          </Link>
          <Button type="submit" variant="primary" disabled={!ready || createBatch.isPending}>
            {createBatch.isPending
              ? "Creating…"
              : parsed.rows.length === 1
                ? "Create 1 task"
                : `Create ${parsed.rows.length} tasks`}
          </Button>
        </div>
      </div>
    </form>
  );
}

interface BatchPreviewProps {
  parsed: ReturnType<typeof parseBatch>;
  serverErrors: ReadonlyMap<number, string> | undefined;
  model: string;
  priority: TaskPriority;
  /** The form's schedule, for rows without their own. */
  runAt: string;
}

const th = "px-3 py-2 text-left text-xs font-medium text-fg-subtle";
const td = "px-3 py-2 align-top text-sm";

function BatchPreview({ parsed, serverErrors, model, priority, runAt }: BatchPreviewProps) {
  const { rows, problems } = parsed;
  const bad = rows.filter((r) => r.error !== undefined).length;
  if (rows.length === 0 && problems.length === 0) return null;
  return (
    <section aria-labelledby="batch-preview-heading" className="space-y-2">
      <h2 id="batch-preview-heading" className="text-sm font-semibold">
        Preview
      </h2>
      <p data-testid="batch-summary" className="text-sm text-fg-muted" aria-live="polite">
        {rows.length === 1 ? "1 task" : `${rows.length} tasks`}
        {bad > 0 ? ` · ${bad} with a problem to fix first` : " · ready to create"}
      </p>
      {problems.map((p) => (
        <p key={p} role="alert" className="text-sm font-medium text-danger">
          {p}
        </p>
      ))}
      {rows.length > 0 && (
        <div className="max-h-96 overflow-auto rounded-lg border border-line">
          <table className="w-full border-collapse">
            <caption className="sr-only">The tasks to create</caption>
            <thead className="sticky top-0 border-b border-line bg-sunken">
              <tr>
                <th scope="col" className={th}>
                  #
                </th>
                <th scope="col" className={th}>
                  Task
                </th>
                <th scope="col" className={th}>
                  Model
                </th>
                <th scope="col" className={th}>
                  Priority
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-line">
              {rows.map((r, i) => {
                const error = r.error ?? serverErrors?.get(i);
                return (
                  <tr
                    key={r.source}
                    data-testid="batch-row"
                    aria-invalid={error !== undefined || undefined}
                    className={error !== undefined ? "bg-red-50 dark:bg-red-950/40" : undefined}
                  >
                    <td className={`${td} text-fg-subtle tabular-nums`}>{r.source}</td>
                    <td className={`${td} max-w-md`}>
                      <span className="line-clamp-2 break-words">
                        {taskTitle({ name: r.name, prompt: r.prompt }, 120)}
                      </span>
                      {Object.keys(r.vars).length > 0 && (
                        <span className="block font-mono text-xs text-fg-subtle">
                          {Object.entries(r.vars)
                            .map(([k, v]) => `${k}=${v}`)
                            .join(" · ")}
                        </span>
                      )}
                      {error === undefined && (r.runAt !== "" || runAt !== "") && (
                        <span className="block text-xs text-fg-subtle">
                          runs {formatAbsolute(new Date(r.runAt !== "" ? r.runAt : runAt))}
                        </span>
                      )}
                      {error !== undefined && (
                        <span className="block text-sm font-medium text-danger">{error}</span>
                      )}
                    </td>
                    <td className={`${td} font-mono text-xs text-fg-muted`}>
                      {r.model !== "" ? r.model : model}
                    </td>
                    <td className={`${td} text-fg-muted`}>{rowPriorityLabel(r, priority)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function BatchCreated({ tasks, onAnother }: { tasks: Task[]; onAnother: () => void }) {
  return (
    <section
      data-testid="batch-created"
      aria-labelledby="batch-created-heading"
      className="space-y-4 rounded-xl border border-line bg-surface p-4 shadow-xs sm:p-6"
    >
      <h2 id="batch-created-heading" className="text-base font-semibold">
        {tasks.length === 1 ? "1 task created" : `${tasks.length} tasks created`}
      </h2>
      <p className="text-sm text-fg-muted">
        They run in the background; open one to watch it, or follow them all in the task list.
      </p>
      <ul className="max-h-80 divide-y divide-line overflow-auto rounded-lg border border-line">
        {tasks.map((t) => (
          <li key={t.id} className="px-3 py-2 text-sm">
            <Link to={`/tasks/${t.id}`} className="text-accent-text underline">
              {taskTitle(t, 100)}
            </Link>
          </li>
        ))}
      </ul>
      <div className="flex flex-wrap gap-2">
        <Link to="/" className={buttonClass("primary")}>
          Open the task list
        </Link>
        <Button onClick={onAnother}>Create another batch</Button>
      </div>
    </section>
  );
}
