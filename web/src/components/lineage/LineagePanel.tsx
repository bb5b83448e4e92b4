import { lazy, Suspense } from "react";
import { type Lineage, neighboursOf } from "../../lineage/lineage";
import { Panel } from "../Panel";
import { Skeleton } from "../Skeleton";
import { LineageLinks } from "./LineageLinks";

// React Flow and dagre are loaded only when a task with links is shown.
const LineageGraph = lazy(() =>
  import("./LineageGraph").then((m) => ({ default: m.LineageGraph })),
);

/** Props for {@link LineagePanel}. */
export interface LineagePanelProps {
  lineage: Lineage;
  currentId: string;
}

/**
 * Where the task sits among the tasks it came from and feeds into: the graph
 * (click a task to open it) and the same links in words below it.
 */
export function LineagePanel({ lineage, currentId }: LineagePanelProps) {
  return (
    <Panel title="Lineage">
      <div className="space-y-4">
        <Suspense
          fallback={
            <div role="status" aria-label="Loading the lineage graph">
              <Skeleton className="h-48 w-full rounded-lg" />
            </div>
          }
        >
          <LineageGraph lineage={lineage} currentId={currentId} />
        </Suspense>
        <LineageLinks neighbours={neighboursOf(lineage, currentId)} />
      </div>
    </Panel>
  );
}
