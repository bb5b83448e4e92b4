import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import { type Task, TaskService, TaskStatus } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { bulkApplies } from "../../bulk";
import { taskTitle } from "../../format";
import { Button, buttonClass } from "../Button";
import { Dialog } from "../Dialog";
import { ErrorNotice } from "../ErrorNotice";

/** Props for {@link TaskActions}. */
export interface TaskActionsProps {
  task: Task;
  /** Called after a cancel or retry, so the page reads the task again. */
  onChanged: () => void;
}

/**
 * What a person can do with one task: cancel it while it can still change,
 * retry it once it failed or was cancelled, delete it once finished (after
 * a confirmation), duplicate it, or use its output in a new task.
 */
export function TaskActions({ task, onChanged }: TaskActionsProps) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [failure, setFailure] = useState<{ what: string; error: unknown } | undefined>();
  const refreshList = () =>
    queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({
        schema: TaskService.method.listTasks,
        cardinality: undefined,
      }),
    });
  const cancel = useMutation(TaskService.method.cancelTask, {
    onSuccess: () => onChanged(),
    onError: (error) => setFailure({ what: "The task was not cancelled", error }),
  });
  const retry = useMutation(TaskService.method.retryTask, {
    onSuccess: () => onChanged(),
    onError: (error) => setFailure({ what: "The task was not retried", error }),
  });
  const remove = useMutation(TaskService.method.deleteTask, {
    onSuccess: async () => {
      await refreshList();
      await navigate("/", { replace: true });
    },
    onError: (error) => setFailure({ what: "The task was not deleted", error }),
  });
  const busy = cancel.isPending || retry.isPending || remove.isPending;
  const act = (run: () => void) => {
    setFailure(undefined);
    run();
  };
  const cancelAsked = task.cancelRequestedAt !== undefined && task.status === TaskStatus.RUNNING;

  return (
    <>
      {bulkApplies("cancel", task.status) && (
        <Button
          size="sm"
          disabled={busy || cancelAsked}
          onClick={() => act(() => cancel.mutate({ id: task.id }))}
        >
          {cancelAsked ? "Cancelling…" : cancel.isPending ? "Cancelling…" : "Cancel"}
        </Button>
      )}
      {bulkApplies("retry", task.status) && (
        <Button size="sm" disabled={busy} onClick={() => act(() => retry.mutate({ id: task.id }))}>
          {retry.isPending ? "Retrying…" : "Retry"}
        </Button>
      )}
      <Link to={`/tasks/new?from=${task.id}`} className={buttonClass("secondary", "sm")}>
        Duplicate
      </Link>
      {task.status === TaskStatus.COMPLETED && (
        <Link to={`/tasks/new?parent=${task.id}`} className={buttonClass("primary", "sm")}>
          Use as new task
        </Link>
      )}
      {bulkApplies("delete", task.status) && (
        <Button size="sm" variant="danger" disabled={busy} onClick={() => setConfirmDelete(true)}>
          Delete
        </Button>
      )}
      {failure !== undefined && (
        <div className="basis-full">
          <ErrorNotice error={failure.error} context={failure.what} />
        </div>
      )}
      <Dialog
        open={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        title="Delete this task?"
      >
        <p className="text-sm text-fg-muted">
          “{taskTitle(task, 80)}”, its output, attempts and history are deleted for good. Tasks made
          from it keep running.
        </p>
        <div className="flex justify-end gap-2">
          <Button onClick={() => setConfirmDelete(false)}>Keep it</Button>
          <Button
            variant="danger"
            onClick={() => {
              setConfirmDelete(false);
              act(() => remove.mutate({ id: task.id }));
            }}
          >
            Delete task
          </Button>
        </div>
      </Dialog>
    </>
  );
}
