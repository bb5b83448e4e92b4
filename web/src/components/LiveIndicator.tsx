import type { LiveStatus } from "../live/watchLoop";
import { POLL_INTERVAL_MS } from "../polling";

const every = `every ${POLL_INTERVAL_MS / 1000} s`;

/** Props for {@link LiveIndicator}. */
export interface LiveIndicatorProps {
  status: LiveStatus;
  /** For browser tests; "live-mode" unless a page shows more than one. */
  testId?: string;
}

const looks = {
  connecting: { label: "Connecting…", dot: "bg-zinc-400" },
  live: { label: "Live", dot: "bg-emerald-500" },
  polling: { label: `Polling ${every}`, dot: "bg-amber-500" },
} as const;

function explain({ mode, reason }: LiveStatus): string {
  switch (mode) {
    case "connecting":
      return "Opening a live stream of changes from the server.";
    case "live":
      return "Changes stream from the server as they happen.";
    case "polling":
      return `Live updates aren't getting through${reason === undefined ? "." : `: ${reason}`} This page refreshes ${every} instead, and switches back to live as soon as the stream works again.`;
  }
}

/**
 * Says how the page keeps itself up to date: streaming ("Live") or, when the
 * stream fails, refetching ("Polling every 2 s"). The tooltip, and for screen
 * readers the status text itself, says why.
 */
export function LiveIndicator({ status, testId = "live-mode" }: LiveIndicatorProps) {
  const look = looks[status.mode];
  const explanation = explain(status);
  return (
    <span
      role="status"
      data-testid={testId}
      data-mode={status.mode}
      title={explanation}
      className="inline-flex cursor-help items-center gap-1.5 rounded-full border border-line bg-surface px-2 py-0.5 text-xs font-medium text-fg-muted"
    >
      <span
        aria-hidden="true"
        className={`size-1.5 rounded-full ${look.dot} ${status.mode === "live" ? "motion-safe:animate-pulse" : ""}`}
      />
      {look.label}
      <span className="sr-only">. {explanation}</span>
    </span>
  );
}
