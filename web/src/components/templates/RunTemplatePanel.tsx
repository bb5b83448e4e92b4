import { useMutation } from "@connectrpc/connect-query";
import { type Template, TemplateService } from "@promptline/proto";
import { type FormEvent, useState } from "react";
import { fieldErrorParts } from "../../errors";
import { useOpenCreatedTask } from "../../useOpenCreatedTask";
import { Button } from "../Button";
import { ErrorNotice } from "../ErrorNotice";
import { Panel } from "../Panel";
import { VariableInputs } from "./VariableInputs";

/** Props for {@link RunTemplatePanel}. */
export interface RunTemplatePanelProps {
  template: Template;
}

/**
 * Runs the saved template: an input per variable, then RunTemplate creates
 * the task and its page opens. A variable the server finds missing is named
 * at its input.
 */
export function RunTemplatePanel({ template }: RunTemplatePanelProps) {
  const openCreatedTask = useOpenCreatedTask();
  const [values, setValues] = useState<Record<string, string>>({});
  const run = useMutation(TemplateService.method.runTemplate, {
    onSuccess: async (res) => {
      if (res.task !== undefined) await openCreatedTask(res.task);
    },
  });
  const errors: Record<string, string> = {};
  for (const { path, reason } of fieldErrorParts(run.error)) {
    const name = path === undefined ? undefined : /^vars\.(\w+)$/.exec(path)?.[1];
    if (name !== undefined) errors[name] = reason;
  }
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (run.isPending) return;
    // An empty input takes the variable's default (or is refused, naming it, when there is none).
    const vars = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
    run.mutate({ id: template.id, vars });
  };
  return (
    <Panel title="Run">
      <form noValidate onSubmit={submit} className="space-y-4">
        <VariableInputs
          idPrefix="template-run"
          variables={template.variables}
          values={values}
          onChange={setValues}
          errors={errors}
        />
        {run.isError && Object.keys(errors).length === 0 && (
          <ErrorNotice error={run.error} context="The task was not created" />
        )}
        <div className="flex items-center justify-end gap-3">
          <p className="text-xs text-fg-subtle">Runs the saved version of the template.</p>
          <Button type="submit" variant="primary" disabled={run.isPending}>
            {run.isPending ? "Starting…" : "Run template"}
          </Button>
        </div>
      </form>
    </Panel>
  );
}
