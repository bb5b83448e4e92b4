import { useMutation } from "@connectrpc/connect-query";
import { type Task, TaskService } from "@promptline/proto";
import { type ReactNode, useState } from "react";
import { formatCost, formatCount, formatDuration, isActive, toMs } from "../../format";
import { type Lineage, statusCounts, tasksInOrder } from "../../lineage/lineage";
import type { LiveStatus } from "../../live/watchLoop";
import { Button } from "../Button";
import { Dialog } from "../Dialog";
import { ErrorNotice } from "../ErrorNotice";
import { LiveIndicator } from "../LiveIndicator";
import { StatusChip } from "../StatusChip";
import { ChainTable } from "./ChainTable";
import { RerunDialog } from "./RerunDialog";

/** Props for {@link ChainPanel}. */
export interface ChainPanelProps {
  lineage: Lineage;
  currentId: string;
  live: LiveStatus;
  /** Called after an action changed the chain, to fetch it again. */
  onChanged: () => void;
}

/**
 * The chain at a glance: totals over all its tasks, a table of the tasks in
 * this task's lineage, and what can be done: cancel the whole chain, retry a
 * failed or cancelled step and everything after it, or re-run a step with
 * changes as a new branch.
 */
export function ChainPanel({ lineage, currentId, live, onChanged }: ChainPanelProps) {
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [rerunning, setRerunning] = useState<Task | undefined>(undefined);
  const [actionError, setActionError] = useState<{ context: string; error: unknown }>();
  const totals = lineage.totals;
  const counts = statusCounts(totals);
  const unfinished = counts.some(([status]) => isActive(status));
  const tasks = tasksInOrder(lineage, currentId);

  const cancelChain = useMutation(TaskService.method.cancelChain, {
    onSuccess: () => {
      setConfirmCancel(false);
      onChanged();
    },
    onError: (error) => {
      setConfirmCancel(false);
      setActionError({ context: "The chain was not cancelled", error });
    },
  });
  const retryFrom = useMutation(TaskService.method.retryFromTask, {
    onSuccess: onChanged,
    onError: (error) => setActionError({ context: "The retry didn't start", error }),
  });

  return (
    <section
      id="chain"
      aria-labelledby="chain-heading"
      className="rounded-xl border border-line bg-surface shadow-xs"
    >
      <div className="flex min-h-12 flex-wrap items-center justify-between gap-3 border-b border-line px-4 py-2">
        <div className="flex items-center gap-3">
          <h2 id="chain-heading" className="text-sm font-semibold text-fg">
            Chain
          </h2>
          {unfinished && <LiveIndicator status={live} testId="chain-live-mode" />}
        </div>
        {unfinished && (
          <Button size="sm" onClick={() => setConfirmCancel(true)}>
            Cancel chain
          </Button>
        )}
      </div>
      <div className="space-y-4 p-4">
        {actionError !== undefined && (
          <ErrorNotice error={actionError.error} context={actionError.context} />
        )}
        <dl data-testid="chain-totals" className="grid grid-cols-2 gap-4 text-sm sm:grid-cols-4">
          <Total label="Tasks">
            <span className="font-semibold tabular-nums">{formatCount(totals?.tasks ?? 0)}</span>
            <span className="mt-1 flex flex-wrap gap-1">
              {counts.map(([status, n]) => (
                <span key={status} className="inline-flex items-center gap-1">
                  <StatusChip status={status} />
                  <span className="text-xs tabular-nums text-fg-muted">× {n}</span>
                </span>
              ))}
            </span>
          </Total>
          <Total label="Tokens">
            <span className="font-semibold tabular-nums">
              {formatCount(
                Number(totals?.promptTokens ?? 0n) + Number(totals?.completionTokens ?? 0n),
              )}
            </span>
            <span className="block text-xs text-fg-muted tabular-nums">
              {formatCount(Number(totals?.promptTokens ?? 0n))} prompt ·{" "}
              {formatCount(Number(totals?.completionTokens ?? 0n))} completion
            </span>
          </Total>
          <Total label="Cost">
            <span className="font-semibold tabular-nums">{formatCost(totals?.costUsd ?? 0)}</span>
          </Total>
          <Total label="Wall time">
            <span className="font-semibold tabular-nums">
              {formatDuration(toMs(totals?.wallTime))}
            </span>
            {unfinished && <span className="block text-xs text-fg-muted">so far</span>}
          </Total>
        </dl>
        {totals !== undefined && totals.tasks > tasks.length && (
          <p className="text-xs text-fg-subtle">
            The table shows this task's ancestors and descendants: {tasks.length} of the chain's{" "}
            {totals.tasks} tasks. Totals count them all.
          </p>
        )}
        <ChainTable
          lineage={lineage}
          tasks={tasks}
          currentId={currentId}
          busy={retryFrom.isPending}
          onRetry={(task) => {
            setActionError(undefined);
            retryFrom.mutate({ id: task.id });
          }}
          onRerun={(task) => {
            setActionError(undefined);
            setRerunning(task);
          }}
        />
      </div>

      <Dialog
        open={confirmCancel}
        onClose={() => setConfirmCancel(false)}
        title="Cancel the whole chain?"
      >
        <p className="text-sm text-fg-muted">
          Every unfinished task of this chain is cancelled; running ones stop shortly. Finished
          tasks keep their output.
        </p>
        <div className="flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
          <Button variant="ghost" onClick={() => setConfirmCancel(false)} autoFocus>
            Keep it running
          </Button>
          <Button
            variant="danger"
            disabled={cancelChain.isPending}
            onClick={() => cancelChain.mutate({ taskId: currentId })}
          >
            {cancelChain.isPending ? "Cancelling…" : "Cancel chain"}
          </Button>
        </div>
      </Dialog>
      <RerunDialog task={rerunning} onClose={() => setRerunning(undefined)} />
    </section>
  );
}

function Total({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs font-medium tracking-wide text-fg-subtle uppercase">{label}</dt>
      <dd className="mt-0.5">{children}</dd>
    </div>
  );
}
