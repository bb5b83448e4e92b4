import type { ReactNode } from "react";

/** One labelled value in a {@link Facts} list. */
export interface Fact {
  label: string;
  value: ReactNode;
  /** Render the value in monospace (ids, model names). */
  mono?: boolean;
}

/** Props for {@link Facts}. */
export interface FactsProps {
  items: Fact[];
}

/** Label/value pairs as a description list, two columns wide enough to scan. */
export function Facts({ items }: FactsProps) {
  return (
    <dl className="grid grid-cols-[8.5rem_minmax(0,1fr)] gap-x-4 gap-y-2 text-sm">
      {items.map((item) => (
        <div key={item.label} className="contents">
          <dt className="text-fg-muted">{item.label}</dt>
          <dd
            className={`min-w-0 break-words text-fg ${item.mono ? "font-mono text-xs leading-5" : ""}`}
          >
            {item.value === "" ||
            item.value === "—" ||
            item.value === undefined ||
            item.value === null ? (
              <span className="text-fg-subtle">—</span>
            ) : (
              item.value
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}
