import { useMutation, useQuery } from "@connectrpc/connect-query";
import { type Task, TaskService } from "@promptline/proto";
import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router";
import { parseFieldErrors } from "../../errors";
import { taskTitle } from "../../format";
import { Button } from "../Button";
import { Dialog } from "../Dialog";
import { ErrorNotice } from "../ErrorNotice";
import { Field, inputClass } from "../Field";

const FIELDS = ["prompt", "model"] as const;

/** Props for {@link RerunDialog}. */
export interface RerunDialogProps {
  /** The task to run again; undefined keeps the dialog closed. */
  task: Task | undefined;
  onClose: () => void;
}

/**
 * "Re-run with changes": the task's prompt and model to edit; RerunTask makes
 * a new task on the same parent and dependencies (the original and its
 * history stay), and its page opens.
 */
export function RerunDialog({ task, onClose }: RerunDialogProps) {
  return (
    <Dialog
      open={task !== undefined}
      onClose={onClose}
      title={task === undefined ? "Re-run" : `Re-run “${taskTitle(task, 50)}” with changes`}
    >
      {task !== undefined && <RerunForm key={task.id} task={task} onClose={onClose} />}
    </Dialog>
  );
}

function RerunForm({ task, onClose }: { task: Task; onClose: () => void }) {
  const navigate = useNavigate();
  const [prompt, setPrompt] = useState(task.prompt);
  const [model, setModel] = useState(task.model);
  const models = useQuery(TaskService.method.listModels, {});
  const rerun = useMutation(TaskService.method.rerunTask, {
    onSuccess: async (res) => {
      onClose();
      if (res.task !== undefined) await navigate(`/tasks/${res.task.id}`);
    },
  });
  const parsed = rerun.isError ? parseFieldErrors(rerun.error, FIELDS) : undefined;
  const listed = models.data?.models ?? [];

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (rerun.isPending) return;
    rerun.mutate({
      id: task.id,
      ...(prompt !== task.prompt ? { prompt } : {}),
      ...(model !== task.model ? { model } : {}),
    });
  };

  return (
    <form noValidate onSubmit={submit} className="space-y-4">
      <p className="text-sm text-fg-muted">
        Runs as a new task with the same parent and dependencies. This one and its history stay as
        they are.
      </p>
      <Field id="rerun-prompt" label="Prompt" error={parsed?.fields.prompt}>
        {(aria) => (
          <textarea
            {...aria}
            rows={6}
            value={prompt}
            onChange={(e) => setPrompt(e.target.value)}
            className={`${inputClass} resize-y font-mono`}
          />
        )}
      </Field>
      <Field id="rerun-model" label="Model" error={parsed?.fields.model}>
        {(aria) => (
          <select
            {...aria}
            value={model}
            onChange={(e) => setModel(e.target.value)}
            className={inputClass}
          >
            {!listed.some((m) => m.id === model) && <option value={model}>{model}</option>}
            {listed.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} · {m.provider}
              </option>
            ))}
          </select>
        )}
      </Field>
      {rerun.isError && parsed !== undefined && Object.keys(parsed.fields).length === 0 && (
        <ErrorNotice error={rerun.error} context="The task was not re-run" />
      )}
      <div className="flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
        <Button variant="ghost" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" variant="primary" disabled={rerun.isPending}>
          {rerun.isPending ? "Starting…" : "Re-run"}
        </Button>
      </div>
    </form>
  );
}
