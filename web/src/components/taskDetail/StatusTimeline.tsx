import { type TaskEvent, TaskStatus } from "@promptline/proto";
import { formatAbsolute, formatDuration } from "../../format";
import { timeline } from "../../taskInsights";
import { useNow } from "../RelativeTime";
import { StatusChip } from "../StatusChip";

/** Props for {@link StatusTimeline}. */
export interface StatusTimelineProps {
  events: readonly TaskEvent[];
  /** The task can still change: the current state's time keeps counting. */
  active: boolean;
}

// What staying in a state means, in words; a final state has no stay.
const stayWords: Partial<Record<TaskStatus, string>> = {
  [TaskStatus.PENDING]: "Waited",
  [TaskStatus.QUEUED]: "In the queue",
  [TaskStatus.RUNNING]: "Ran",
};

/**
 * Every status change from the task's history (task_events), oldest first,
 * with how long the task stayed in each state: waited, queued, ran, and
 * every retry and its error along the way.
 */
export function StatusTimeline({ events, active }: StatusTimelineProps) {
  const now = useNow(active ? 1000 : 60_000);
  const steps = timeline(events, { now, active });
  if (steps.length === 0) {
    return <p className="text-sm text-fg-muted">No history recorded yet.</p>;
  }
  return (
    <ol data-testid="status-timeline" className="relative space-y-3 border-l border-line pl-4">
      {steps.map(({ event, at, stayedMs, ongoing }) => {
        const stay = stayWords[event.toStatus];
        return (
          <li key={event.seq} data-testid="timeline-step" className="relative">
            <span
              aria-hidden="true"
              className="absolute top-1.5 -left-[1.3rem] size-2 rounded-full bg-line-strong"
            />
            <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
              <StatusChip status={event.toStatus} />
              {event.attempt > 0 && event.toStatus === TaskStatus.RUNNING && (
                <span className="text-xs text-fg-muted">attempt {event.attempt}</span>
              )}
              {at !== undefined && (
                <time
                  dateTime={new Date(at).toISOString()}
                  title={new Date(at).toISOString()}
                  className="text-xs text-fg-subtle"
                >
                  {formatAbsolute(new Date(at))}
                </time>
              )}
            </div>
            {stayedMs !== undefined && stay !== undefined && (
              <p className="mt-0.5 text-xs text-fg-muted">
                {stay}{" "}
                <span className="font-medium tabular-nums text-fg">{formatDuration(stayedMs)}</span>
                {ongoing ? " so far" : ""}
              </p>
            )}
            {showsError(event) && event.error !== undefined && (
              <p className="mt-0.5 text-xs break-words text-danger">
                <span className="font-mono">{event.error.code}</span>
                {event.error.message !== "" ? `: ${event.error.message}` : ""}
              </p>
            )}
          </li>
        );
      })}
    </ol>
  );
}

/**
 * An event carries the task's error as it stood; it explains the moves an
 * error causes (a retry back to queued, failed, cancelled), not a new start.
 */
function showsError(event: TaskEvent): boolean {
  if (event.error === undefined || event.error.code === "") return false;
  return (
    event.toStatus === TaskStatus.QUEUED ||
    event.toStatus === TaskStatus.FAILED ||
    event.toStatus === TaskStatus.CANCELLED
  );
}
