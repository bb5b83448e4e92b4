import { type Task, TaskStatus } from "@promptline/proto";
import { Link } from "react-router";
import { upstreamTaskId } from "../../lineage/lineage";
import { errorHint } from "../../taskInsights";

/**
 * Why a task failed or was cancelled: the message, what to do about it, the
 * code and HTTP status, and for a task stopped by an upstream failure, a
 * link to that task.
 */
export function ErrorPanel({ task }: { task: Task }) {
  const err = task.error;
  const upstream = upstreamTaskId(err);
  const hint = err === undefined ? undefined : errorHint(err.code);
  return (
    <section
      data-testid="task-error"
      aria-labelledby="task-error-heading"
      className="rounded-xl border border-red-200 bg-red-50 p-4 text-red-950 dark:border-red-900 dark:bg-red-950/40 dark:text-red-100"
    >
      <h2 id="task-error-heading" className="text-sm font-semibold">
        {task.status === TaskStatus.CANCELLED ? "Why it was cancelled" : "Why it failed"}
      </h2>
      {err === undefined ? (
        <p className="mt-2 text-sm">The task failed without reporting an error.</p>
      ) : (
        <>
          <p className="mt-2 text-sm break-words whitespace-pre-wrap">
            {err.message !== "" ? err.message : "No message was given."}
          </p>
          {hint !== undefined && (
            <p data-testid="task-error-hint" className="mt-2 text-sm">
              <span className="font-semibold">What to do: </span>
              {hint}
            </p>
          )}
          {upstream !== undefined && (
            <p className="mt-2 text-sm">
              <Link to={`/tasks/${upstream}`} className="font-medium underline">
                Open the task that stopped this one
              </Link>
            </p>
          )}
          <dl className="mt-3 flex flex-wrap gap-x-6 gap-y-1 text-xs">
            <div className="flex gap-1.5">
              <dt className="opacity-75">Code</dt>
              <dd className="font-mono font-medium">{err.code !== "" ? err.code : "—"}</dd>
            </div>
            <div className="flex gap-1.5">
              <dt className="opacity-75">HTTP status</dt>
              <dd className="font-mono font-medium">
                {err.httpStatus !== 0 ? err.httpStatus : "—"}
              </dd>
            </div>
          </dl>
        </>
      )}
    </section>
  );
}
