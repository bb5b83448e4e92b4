import { type Task, TaskStatus } from "@promptline/proto";
import { Link } from "react-router";
import { formatCount, formatDuration, spanMs, taskTitle, toDate } from "../../format";
import { type Lineage, neighboursOf } from "../../lineage/lineage";
import { Button } from "../Button";
import { StatusChip } from "../StatusChip";

/** Props for {@link ChainTable}. */
export interface ChainTableProps {
  lineage: Lineage;
  /** The rows, top to bottom. */
  tasks: Task[];
  currentId: string;
  /** While a retry is being sent. */
  busy: boolean;
  onRetry: (task: Task) => void;
  onRerun: (task: Task) => void;
}

const th = "px-3 py-2 text-left text-xs font-medium uppercase tracking-wide text-fg-subtle";
const td = "px-3 py-2.5 align-top text-sm";

/**
 * The chain's tasks with status, model, tokens and run time. A failed or
 * cancelled step offers "Retry from here" and "Re-run with changes", unless
 * it only stopped because a step above it did: retrying that one runs it again.
 */
export function ChainTable({ lineage, tasks, currentId, busy, onRetry, onRerun }: ChainTableProps) {
  return (
    <div className="overflow-x-auto rounded-lg border border-line">
      <table className="w-full border-collapse" data-testid="chain-table">
        <caption className="sr-only">Tasks of the chain, top to bottom</caption>
        <thead className="border-b border-line bg-sunken/60">
          <tr>
            <th scope="col" className={th}>
              Task
            </th>
            <th scope="col" className={th}>
              Status
            </th>
            <th scope="col" className={`${th} hidden md:table-cell`}>
              Model
            </th>
            <th scope="col" className={`${th} hidden text-right sm:table-cell`}>
              Tokens
            </th>
            <th scope="col" className={`${th} hidden text-right sm:table-cell`}>
              Ran
            </th>
            <th scope="col" className={th}>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {tasks.map((task) => {
            const title = taskTitle(task, 60);
            const current = task.id === currentId;
            const upstreamFailed = task.error?.code === "UPSTREAM_FAILED";
            const blocked = neighboursOf(lineage, task.id).upstream.some((n) => stopped(n.task));
            const actions = stopped(task) && !upstreamFailed && !blocked;
            const total = task.usage?.totalTokens ?? 0;
            const ran = spanMs(
              toDate(task.startedAt)?.getTime(),
              toDate(task.completedAt)?.getTime(),
            );
            return (
              <tr
                key={task.id}
                data-testid="chain-row"
                className={current ? "bg-accent/5" : undefined}
              >
                <td className={`${td} max-w-xs`}>
                  <Link
                    to={`/tasks/${task.id}`}
                    aria-current={current ? "page" : undefined}
                    className="font-medium break-words text-fg underline decoration-line-strong underline-offset-2 hover:decoration-accent"
                  >
                    {title}
                  </Link>
                  {current && <span className="ml-2 text-xs text-fg-subtle">this task</span>}
                </td>
                <td className={td}>
                  <StatusChip status={task.status} />
                  {upstreamFailed && (
                    <span className="mt-0.5 block text-xs text-fg-subtle">upstream failed</span>
                  )}
                </td>
                <td
                  className={`${td} hidden max-w-48 truncate font-mono text-xs text-fg-muted md:table-cell`}
                >
                  {task.model}
                </td>
                <td className={`${td} hidden text-right tabular-nums text-fg-muted sm:table-cell`}>
                  {total > 0 ? formatCount(total) : "—"}
                </td>
                <td
                  className={`${td} hidden text-right whitespace-nowrap tabular-nums text-fg-muted sm:table-cell`}
                >
                  {formatDuration(ran)}
                </td>
                <td className={`${td} text-right`}>
                  {actions && (
                    <span className="inline-flex flex-wrap justify-end gap-1.5">
                      <Button
                        size="sm"
                        disabled={busy}
                        aria-label={`Retry from here: ${title}`}
                        onClick={() => onRetry(task)}
                      >
                        Retry from here
                      </Button>
                      <Button
                        size="sm"
                        variant="ghost"
                        aria-label={`Re-run with changes: ${title}`}
                        onClick={() => onRerun(task)}
                      >
                        Re-run with changes
                      </Button>
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function stopped(task: Task): boolean {
  return task.status === TaskStatus.FAILED || task.status === TaskStatus.CANCELLED;
}
