import type { ReactNode } from "react";

/** Props for {@link EmptyState}. */
export interface EmptyStateProps {
  /** What is missing, e.g. "No workers are running" (an h2 or h3, see `level`). */
  title: string;
  /** What to do about it. */
  children: ReactNode;
  /** A button or link that does it. */
  action?: ReactNode;
  /** Heading level, so it fits the page's outline; 2 by default. */
  level?: 2 | 3;
  /** "sm" inside a panel; "md" (default) when it is the whole page. */
  size?: "sm" | "md";
}

/** Says that there is nothing to show yet and what to do about it. */
export function EmptyState({ title, children, action, level = 2, size = "md" }: EmptyStateProps) {
  const Heading = level === 2 ? "h2" : "h3";
  return (
    <div
      className={`flex flex-col items-center gap-2 rounded-xl border border-dashed border-line-strong text-center ${
        size === "md" ? "bg-surface px-6 py-14" : "px-4 py-8"
      }`}
    >
      <Heading className="text-sm font-semibold text-fg">{title}</Heading>
      <div className="max-w-sm text-sm text-fg-muted">{children}</div>
      {action !== undefined && <div className="mt-1">{action}</div>}
    </div>
  );
}
