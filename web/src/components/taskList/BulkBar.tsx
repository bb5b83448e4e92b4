import { createClient } from "@connectrpc/connect";
import { createConnectQueryKey, useTransport } from "@connectrpc/connect-query";
import { type Task, TaskService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { type BulkAction, bulkTargets } from "../../bulk";
import { taskTitle } from "../../format";
import { Button } from "../Button";
import { Dialog } from "../Dialog";
import { ErrorNotice } from "../ErrorNotice";

/** The most ids one CancelTasks, RetryTasks or DeleteTasks call takes. */
const BULK_MAX = 100;

const words: Record<BulkAction, { verb: string; done: string }> = {
  cancel: { verb: "Cancel", done: "cancelled" },
  retry: { verb: "Retry", done: "retried" },
  delete: { verb: "Delete", done: "deleted" },
};

interface BulkResult {
  action: BulkAction;
  ok: number;
  skipped: number;
  /** The tasks the server refused, with its reason. */
  refused: Array<{ task: Task; reason: string }>;
  /** A call that failed as a whole (server unreachable…): its tasks got no answer. */
  error: unknown;
}

/** Props for {@link BulkBar}. */
export interface BulkBarProps {
  selected: Task[];
  onClear: () => void;
  /** Called after a run with the ids that succeeded (deleted ones leave the selection). */
  onDone: (action: BulkAction, succeeded: string[]) => void;
}

/**
 * Cancel, retry or delete the selected tasks with one CancelTasks,
 * RetryTasks or DeleteTasks call (per 100). Each action goes to the tasks it
 * applies to (retry to failed and cancelled ones…), says how many it skips,
 * and reports every task the server refused, by name, with why.
 */
export function BulkBar({ selected, onClear, onDone }: BulkBarProps) {
  const transport = useTransport();
  const queryClient = useQueryClient();
  const [running, setRunning] = useState<BulkAction | undefined>(undefined);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [result, setResult] = useState<BulkResult | undefined>(undefined);

  const run = async (action: BulkAction) => {
    const { targets, skipped } = bulkTargets(action, selected);
    setRunning(action);
    setResult(undefined);
    const client = createClient(TaskService, transport);
    const byId = new Map(targets.map((t) => [t.id, t]));
    const succeeded: string[] = [];
    const refused: BulkResult["refused"] = [];
    let error: unknown;
    // One call per 100 tasks; each answers for every task it carried.
    for (let i = 0; i < targets.length && error === undefined; i += BULK_MAX) {
      const ids = targets.slice(i, i + BULK_MAX).map((t) => t.id);
      try {
        const { results } =
          action === "cancel"
            ? await client.cancelTasks({ ids })
            : action === "retry"
              ? await client.retryTasks({ ids })
              : await client.deleteTasks({ ids });
        for (const r of results) {
          const task = byId.get(r.id);
          if (r.errorCode === "") succeeded.push(r.id);
          else if (task !== undefined) refused.push({ task, reason: r.errorMessage });
        }
      } catch (e) {
        error = e;
      }
    }
    setResult({ action, ok: succeeded.length, skipped, refused, error });
    setRunning(undefined);
    onDone(action, succeeded);
    await queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({
        schema: TaskService.method.listTasks,
        cardinality: undefined,
      }),
    });
  };

  const count = (action: BulkAction) => bulkTargets(action, selected).targets.length;
  const deletable = count("delete");

  return (
    <div className="mb-3 space-y-2">
      {selected.length > 0 && (
        <section
          aria-label="Selected tasks"
          data-testid="bulk-bar"
          className="flex flex-wrap items-center gap-2 rounded-xl border border-accent/40 bg-surface px-3 py-2 shadow-xs"
        >
          <p className="mr-2 text-sm font-medium">
            {selected.length === 1 ? "1 task selected" : `${selected.length} tasks selected`}
          </p>
          {(["cancel", "retry"] as const).map((action) => (
            <Button
              key={action}
              size="sm"
              disabled={running !== undefined || count(action) === 0}
              onClick={() => void run(action)}
              title={
                count(action) === 0
                  ? `None of the selected tasks can be ${words[action].done}`
                  : undefined
              }
            >
              {running === action ? "Working…" : `${words[action].verb} ${count(action)}`}
            </Button>
          ))}
          <Button
            size="sm"
            variant="danger"
            disabled={running !== undefined || deletable === 0}
            onClick={() => setConfirmDelete(true)}
            title={deletable === 0 ? "Only finished tasks can be deleted" : undefined}
          >
            {running === "delete" ? "Deleting…" : `Delete ${deletable}`}
          </Button>
          <Button size="sm" variant="ghost" onClick={onClear} disabled={running !== undefined}>
            Clear selection
          </Button>
        </section>
      )}
      {result !== undefined && (
        <BulkReport result={result} onDismiss={() => setResult(undefined)} />
      )}
      <Dialog
        open={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        title={deletable === 1 ? "Delete 1 task?" : `Delete ${deletable} tasks?`}
      >
        <p className="text-sm text-fg-muted">
          Their output, attempts and history are deleted for good. Tasks made from them keep
          running.
          {selected.length - deletable === 1 &&
            " 1 selected task is still running or waiting and stays."}
          {selected.length - deletable > 1 &&
            ` ${selected.length - deletable} selected tasks are still running or waiting and stay.`}
        </p>
        <div className="flex justify-end gap-2">
          <Button onClick={() => setConfirmDelete(false)}>Keep them</Button>
          <Button
            variant="danger"
            onClick={() => {
              setConfirmDelete(false);
              void run("delete");
            }}
          >
            Delete
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

function BulkReport({ result, onDismiss }: { result: BulkResult; onDismiss: () => void }) {
  const { action, ok, skipped, refused, error } = result;
  const parts = [`${ok} ${ok === 1 ? "task" : "tasks"} ${words[action].done}`];
  if (refused.length > 0) parts.push(`${refused.length} refused`);
  if (skipped > 0) parts.push(`${skipped} skipped: they can't be ${words[action].done}`);
  return (
    <div
      role="status"
      data-testid="bulk-result"
      className={`rounded-xl border px-3 py-2 text-sm ${
        refused.length > 0 || error !== undefined
          ? "border-red-200 bg-red-50 text-red-950 dark:border-red-900 dark:bg-red-950/40 dark:text-red-100"
          : "border-line bg-surface"
      }`}
    >
      <div className="flex items-start justify-between gap-3">
        <p className="font-medium">{parts.join(" · ")}</p>
        <Button size="sm" variant="ghost" onClick={onDismiss}>
          Dismiss
        </Button>
      </div>
      {refused.length > 0 && (
        <ul className="mt-1 space-y-1">
          {refused.map((r) => (
            <li key={r.task.id}>
              <Link to={`/tasks/${r.task.id}`} className="font-medium underline">
                {taskTitle(r.task, 60)}
              </Link>
              : {r.reason}
            </li>
          ))}
        </ul>
      )}
      {error !== undefined && (
        <div className="mt-2">
          <ErrorNotice error={error} context="The server didn't answer for the rest" />
        </div>
      )}
    </div>
  );
}
