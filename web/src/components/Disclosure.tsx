import type { ReactNode } from "react";

/** Props for {@link Disclosure}. */
export interface DisclosureProps {
  /** The summary line's words. */
  title: string;
  /** Small print after the title, e.g. "optional · 2 tasks". */
  note?: string;
  open: boolean;
  onToggle: (open: boolean) => void;
  children: ReactNode;
  testId?: string;
}

/**
 * A section of a form that starts folded (a native `<details>`), for the
 * parts most tasks don't need. Controlled, so the form can open it to show
 * an error inside.
 */
export function Disclosure({ title, note, open, onToggle, children, testId }: DisclosureProps) {
  return (
    <details
      open={open}
      onToggle={(e) => onToggle(e.currentTarget.open)}
      className="group rounded-lg border border-line"
      data-testid={testId}
    >
      <summary className="flex cursor-pointer list-none items-center justify-between gap-2 rounded-lg px-3 py-2.5 text-sm font-medium select-none hover:bg-sunken [&::-webkit-details-marker]:hidden">
        <span>
          {title}{" "}
          {note !== undefined && <span className="text-xs font-normal text-fg-subtle">{note}</span>}
        </span>
        <svg
          aria-hidden="true"
          viewBox="0 0 20 20"
          fill="currentColor"
          className="size-4 text-fg-subtle transition-transform group-open:rotate-180"
        >
          <path
            fillRule="evenodd"
            d="M5.2 7.2a.75.75 0 0 1 1.06 0L10 10.94l3.74-3.74a.75.75 0 1 1 1.06 1.06l-4.27 4.27a.75.75 0 0 1-1.06 0L5.2 8.26a.75.75 0 0 1 0-1.06Z"
            clipRule="evenodd"
          />
        </svg>
      </summary>
      <div className="border-t border-line p-3">{children}</div>
    </details>
  );
}
