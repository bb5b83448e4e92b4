import { Link } from "react-router";
import { taskTitle } from "../../format";
import type { Neighbour, Neighbours } from "../../lineage/lineage";
import { StatusChip } from "../StatusChip";

/** Props for {@link LineageLinks}. */
export interface LineageLinksProps {
  neighbours: Neighbours;
}

/**
 * The task's direct links in words: where it comes from (its parent and the
 * tasks it waits for) and what it feeds into. The graph's counterpart for
 * screen readers and small screens.
 */
export function LineageLinks({ neighbours }: LineageLinksProps) {
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      <LinkList
        heading="Comes from"
        empty="Nothing: this task starts the chain."
        items={neighbours.upstream}
        relation={(n) =>
          n.kind === "derived"
            ? "parent"
            : n.name !== ""
              ? `waits for it as ${n.name}`
              : "waits for it"
        }
        testId="lineage-upstream"
      />
      <LinkList
        heading="Feeds into"
        empty="Nothing yet."
        items={neighbours.downstream}
        relation={(n) =>
          n.kind === "derived"
            ? "made from this task"
            : n.name !== ""
              ? `waits for this task as ${n.name}`
              : "waits for this task"
        }
        testId="lineage-downstream"
      />
    </div>
  );
}

interface LinkListProps {
  heading: string;
  empty: string;
  items: Neighbour[];
  relation: (n: Neighbour) => string;
  testId: string;
}

function LinkList({ heading, empty, items, relation, testId }: LinkListProps) {
  return (
    <section data-testid={testId} aria-label={heading}>
      <h3 className="mb-1.5 text-xs font-medium tracking-wide text-fg-subtle uppercase">
        {heading}
      </h3>
      {items.length === 0 ? (
        <p className="text-sm text-fg-muted">{empty}</p>
      ) : (
        <ul className="space-y-1.5">
          {items.map((n) => (
            <li key={n.task.id} className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
              <Link
                to={`/tasks/${n.task.id}`}
                className="min-w-0 font-medium break-words text-accent-text underline"
              >
                {taskTitle(n.task, 60)}
              </Link>
              <StatusChip status={n.task.status} />
              <span className="text-xs text-fg-subtle">{relation(n)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
