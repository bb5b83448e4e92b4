import type { TaskStatus } from "@promptline/proto";
import { statusChipClass, statusDotClass, statusLabel } from "../format";

/** Props for {@link StatusChip}. */
export interface StatusChipProps {
  status: TaskStatus;
  /** Passed through for browser tests (the detail page uses "task-status"). */
  testId?: string;
  /** "md" for a page's headline status; "sm" (default) in lists. */
  size?: "sm" | "md";
}

/**
 * A task's status as a coloured chip. The text is the lowercase status word,
 * so colour is never the only signal.
 */
export function StatusChip({ status, testId, size = "sm" }: StatusChipProps) {
  const sizing = size === "md" ? "gap-2 px-3 py-1 text-sm" : "gap-1.5 px-2.5 py-0.5 text-xs";
  return (
    <span
      className={`inline-flex items-center rounded-full font-medium whitespace-nowrap ring-1 ring-inset ${sizing} ${statusChipClass(status)}`}
    >
      <span
        aria-hidden="true"
        className={`rounded-full ${size === "md" ? "size-2" : "size-1.5"} ${statusDotClass(status)}`}
      />
      <span data-testid={testId}>{statusLabel(status)}</span>
    </span>
  );
}
