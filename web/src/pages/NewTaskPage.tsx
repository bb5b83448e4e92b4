import { useQuery } from "@connectrpc/connect-query";
import { type Task, TaskService } from "@promptline/proto";
import { lazy, Suspense, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { buttonClass } from "../components/Button";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { Skeleton } from "../components/Skeleton";
import { TaskForm } from "../components/taskForm/TaskForm";
import { TemplatePicker } from "../components/templates/TemplatePicker";
import { taskDraftFromTemplate } from "../components/templates/templateDraft";
import { taskTitle } from "../format";
import { draftFromTask, emptyDraft } from "../taskDraft";

// Papaparse and the preview load only when someone asks for a batch.
const BatchForm = lazy(() =>
  import("../components/taskForm/BatchForm").then((m) => ({ default: m.BatchForm })),
);

/** What the form starts from: `?parent=<id>` ("use as new task") or `?from=<id>` (duplicate). */
type Seed = { kind: "child" | "duplicate"; id: string } | undefined;

/**
 * The create page: a blank form, or one filled in from another task, either
 * as its child (`/tasks/new?parent=<id>`) or as a copy (`?from=<id>`), or
 * many tasks at once (`?mode=batch`). The address says which, so the page
 * survives a reload.
 */
export function NewTaskPage() {
  const [params] = useSearchParams();
  const parent = params.get("parent") ?? "";
  const from = params.get("from") ?? "";
  const seed: Seed =
    parent !== ""
      ? { kind: "child", id: parent }
      : from !== ""
        ? { kind: "duplicate", id: from }
        : undefined;
  if (seed === undefined) {
    return params.get("mode") === "batch" ? <NewBatchView /> : <NewTaskView key="blank" />;
  }
  // Keyed: another source task starts a fresh form.
  return <SeededNewTask key={`${seed.kind}:${seed.id}`} kind={seed.kind} id={seed.id} />;
}

function SeededNewTask({ kind, id }: { kind: "child" | "duplicate"; id: string }) {
  const source = useQuery(TaskService.method.getTask, { id });
  const task = source.data?.task;
  if (task !== undefined) return <NewTaskView source={task} kind={kind} />;
  return (
    <>
      <Header />
      {source.isPending ? (
        <div role="status" aria-label="Loading the task to start from" className="space-y-4">
          <Skeleton className="h-10 w-full max-w-xl" />
          <Skeleton className="h-64 w-full rounded-xl" />
        </div>
      ) : (
        <div className="space-y-4">
          <ErrorNotice
            error={source.error}
            context="Couldn't load the task to start from"
            onRetry={() => void source.refetch()}
          />
          <Link to="/tasks/new" className={buttonClass("secondary")}>
            Start from a blank form
          </Link>
        </div>
      )}
    </>
  );
}

interface NewTaskViewProps {
  source?: Task;
  kind?: "child" | "duplicate";
}

function NewTaskView({ source, kind }: NewTaskViewProps) {
  // Made once: the form owns its values from here on, whatever refetches bring.
  const [initial, setInitial] = useState(() =>
    source !== undefined && kind !== undefined ? draftFromTask(source, kind) : emptyDraft(),
  );
  // A picked template starts a fresh form (TaskForm owns its values once made).
  const [formKey, setFormKey] = useState(0);
  return (
    <>
      <Header source={source} kind={kind} />
      {source === undefined && <ModeSwitch batch={false} />}
      {source === undefined && (
        <TemplatePicker
          onPick={(template) => {
            setInitial(taskDraftFromTemplate(template));
            setFormKey((k) => k + 1);
          }}
        />
      )}
      <TaskForm key={formKey} initial={initial} parent={kind === "child" ? source : undefined} />
    </>
  );
}

function NewBatchView() {
  return (
    <>
      <title>New tasks · Promptline</title>
      <PageHeader
        title="New tasks"
        description="Many prompts at once: paste them or upload a CSV or JSON Lines file, check the preview, create them all."
      />
      <ModeSwitch batch />
      <Suspense
        fallback={
          <div role="status" aria-label="Loading the batch form">
            <Skeleton className="h-64 w-full rounded-xl" />
          </div>
        }
      >
        <BatchForm />
      </Suspense>
    </>
  );
}

/** One task or many: two links, so the choice is in the address and survives a reload. */
function ModeSwitch({ batch }: { batch: boolean }) {
  const tab = (active: boolean) =>
    `rounded-md px-3 py-1.5 text-sm font-medium transition-colors ${
      active ? "bg-surface text-fg shadow-sm" : "text-fg-muted hover:text-fg"
    }`;
  return (
    <nav aria-label="How many tasks" className="mb-5 inline-flex gap-1 rounded-lg bg-sunken p-1">
      <Link to="/tasks/new" aria-current={batch ? undefined : "page"} className={tab(!batch)}>
        One task
      </Link>
      <Link
        to="/tasks/new?mode=batch"
        aria-current={batch ? "page" : undefined}
        className={tab(batch)}
      >
        Many at once
      </Link>
    </nav>
  );
}

function Header({ source, kind }: NewTaskViewProps) {
  const name = source !== undefined ? `“${taskTitle(source, 60)}”` : "";
  const description =
    source === undefined
      ? "Write a prompt, pick a model, and Promptline runs it in the background."
      : kind === "child"
        ? `Made from ${name}: its output flows into this prompt. Model and parameters are copied.`
        : `A copy of ${name}. Change what you like, then create it.`;
  return (
    <>
      <title>New task · Promptline</title>
      <PageHeader title="New task" description={description} />
    </>
  );
}
