import type { ReactNode } from "react";

/** Props for {@link Panel}. */
export interface PanelProps {
  /** The section's heading (an h2); it also names the section for assistive tech. */
  title: string;
  /** Controls shown at the right of the heading, e.g. a copy button. */
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}

/** A titled card: the building block of the detail and create pages. */
export function Panel({ title, actions, children, className }: PanelProps) {
  const id = `panel-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return (
    <section
      aria-labelledby={id}
      className={`rounded-xl border border-line bg-surface shadow-xs ${className ?? ""}`}
    >
      <div className="flex min-h-12 items-center justify-between gap-3 border-b border-line px-4 py-2">
        <h2 id={id} className="text-sm font-semibold text-fg">
          {title}
        </h2>
        {actions}
      </div>
      <div className="p-4">{children}</div>
    </section>
  );
}
