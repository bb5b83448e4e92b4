import { AttemptOutcome, type TaskAttempt } from "@promptline/proto";
import { formatAbsolute, formatCount, formatDuration, toDate, toMs } from "../../format";

const outcomeWords: Record<AttemptOutcome, string> = {
  [AttemptOutcome.UNSPECIFIED]: "unknown",
  [AttemptOutcome.RUNNING]: "running",
  [AttemptOutcome.SUCCEEDED]: "succeeded",
  [AttemptOutcome.FAILED]: "failed",
  [AttemptOutcome.CANCELLED]: "cancelled",
};

const outcomeClass: Record<AttemptOutcome, string> = {
  [AttemptOutcome.UNSPECIFIED]: "text-fg-muted",
  [AttemptOutcome.RUNNING]: "text-amber-700 dark:text-amber-300",
  [AttemptOutcome.SUCCEEDED]: "text-emerald-700 dark:text-emerald-300",
  [AttemptOutcome.FAILED]: "text-danger",
  [AttemptOutcome.CANCELLED]: "text-fg-muted",
};

const th = "px-3 py-2 text-left text-xs font-medium text-fg-subtle";
const td = "px-3 py-2 align-top text-sm";

/**
 * Every try at running the task, oldest first: who ran it, when, how it
 * ended and why, and what it measured.
 */
export function AttemptsTable({ attempts }: { attempts: readonly TaskAttempt[] }) {
  if (attempts.length === 0) {
    return <p className="text-sm text-fg-muted">No attempt has started yet.</p>;
  }
  return (
    // Focusable, so a keyboard can scroll the table sideways on a narrow screen (WCAG 2.1.1).
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard.
    <section className="-m-4 overflow-x-auto" tabIndex={0} aria-label="Attempts table">
      <table data-testid="attempts-table" className="w-full border-collapse">
        <caption className="sr-only">Attempts, oldest first</caption>
        <thead className="border-b border-line bg-sunken/60">
          <tr>
            <th scope="col" className={th}>
              #
            </th>
            <th scope="col" className={th}>
              Outcome
            </th>
            <th scope="col" className={th}>
              Started
            </th>
            <th scope="col" className={`${th} text-right`}>
              Latency
            </th>
            <th scope="col" className={`${th} text-right`}>
              First token
            </th>
            <th scope="col" className={`${th} text-right`}>
              Tokens
            </th>
            <th scope="col" className={th}>
              Worker
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {attempts.map((a) => {
            const started = toDate(a.startedAt);
            const tokens = a.usage?.totalTokens ?? 0;
            return (
              <tr key={a.attempt} data-testid="attempt-row">
                <td className={`${td} tabular-nums`}>{a.attempt}</td>
                <td className={td}>
                  <span className={`font-medium ${outcomeClass[a.outcome]}`}>
                    {outcomeWords[a.outcome]}
                  </span>
                  {a.error !== undefined && a.error.code !== "" && (
                    <span className="block max-w-xs text-xs break-words text-fg-muted">
                      <span className="font-mono">{a.error.code}</span>
                      {a.error.httpStatus !== 0 ? ` (HTTP ${a.error.httpStatus})` : ""}
                      {a.error.message !== "" ? `: ${a.error.message}` : ""}
                    </span>
                  )}
                </td>
                <td className={`${td} whitespace-nowrap text-fg-muted`}>
                  {started === undefined ? "—" : formatAbsolute(started)}
                </td>
                <td className={`${td} text-right whitespace-nowrap tabular-nums`}>
                  {formatDuration(toMs(a.latency))}
                </td>
                <td className={`${td} text-right whitespace-nowrap tabular-nums`}>
                  {formatDuration(toMs(a.timeToFirstToken))}
                </td>
                <td className={`${td} text-right tabular-nums`}>
                  {tokens > 0 ? formatCount(tokens) : "—"}
                </td>
                <td className={`${td} max-w-40 truncate font-mono text-xs text-fg-muted`}>
                  {a.workerId || "—"}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
