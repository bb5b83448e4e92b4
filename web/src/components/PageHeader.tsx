import type { ReactNode } from "react";

/** Props for {@link PageHeader}. */
export interface PageHeaderProps {
  /** The page's h1. */
  title: ReactNode;
  /** A line under the title. */
  description?: ReactNode;
  /** Controls on the right (wrap under the title on phones). */
  actions?: ReactNode;
}

/** A page's h1 with an optional description and actions. */
export function PageHeader({ title, description, actions }: PageHeaderProps) {
  return (
    <div className="mb-6 flex flex-col gap-3 sm:flex-row sm:items-end sm:justify-between">
      <div className="min-w-0 space-y-1">
        <h1 className="text-2xl font-semibold tracking-tight break-words">{title}</h1>
        {description !== undefined && <div className="text-sm text-fg-muted">{description}</div>}
      </div>
      {actions !== undefined && (
        <div className="flex shrink-0 flex-wrap items-center gap-2">{actions}</div>
      )}
    </div>
  );
}
