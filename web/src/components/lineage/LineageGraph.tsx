import "@xyflow/react/dist/style.css";
import {
  Controls,
  type FitViewOptions,
  Handle,
  type NodeProps,
  Position,
  ReactFlow,
  useReactFlow,
  useStore,
} from "@xyflow/react";
import { useEffect, useMemo } from "react";
import { Link } from "react-router";
import { statusLabel } from "../../format";
import type { Lineage } from "../../lineage/lineage";
import {
  lineageGraph,
  lineageShape,
  NODE_HEIGHT,
  NODE_WIDTH,
  type TaskNode,
} from "../../lineage/lineageLayout";
import { StatusChip } from "../StatusChip";
import { useTheme } from "../ThemeToggle";

/** Props for {@link LineageGraph}. */
export interface LineageGraphProps {
  lineage: Lineage;
  /** The task the page is about: highlighted, and the view centres on it in a large graph. */
  currentId: string;
}

const MIN_HEIGHT = 180;
const MAX_HEIGHT = 520;
/** Up to this many tasks the whole graph is fitted; beyond, the current task and its neighbours. */
const FIT_ALL_UP_TO = 12;

const nodeTypes = { task: TaskNodeView };

/**
 * The lineage as a graph, top to bottom: one node per task (a link to it),
 * `derived` edges solid, `depends_on` edges dashed and named. Read-only:
 * nodes can't be dragged or connected; the view pans, and zooms with the
 * buttons, not the scroll wheel, so the page scrolls past it normally.
 */
export function LineageGraph({ lineage, currentId }: LineageGraphProps) {
  const model = useMemo(() => lineageGraph(lineage, currentId), [lineage, currentId]);
  const fitView = useMemo<FitViewOptions>(() => {
    if (model.nodes.length <= FIT_ALL_UP_TO) return { padding: 0.12, maxZoom: 1 };
    const near = new Set([currentId]);
    for (const e of model.edges) {
      if (e.source === currentId) near.add(e.target);
      if (e.target === currentId) near.add(e.source);
    }
    return { padding: 0.2, maxZoom: 1, nodes: [...near].map((id) => ({ id })) };
  }, [model, currentId]);
  const height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, model.height + 24));
  const theme = useTheme();

  return (
    <div
      data-testid="lineage-graph"
      className="lineage-graph overflow-hidden rounded-lg border border-line bg-sunken/40"
      style={{ height }}
    >
      <ReactFlow
        // A new shape is laid out and fitted afresh; status changes keep the view.
        key={lineageShape(lineage)}
        nodes={model.nodes}
        edges={model.edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={fitView}
        minZoom={0.1}
        maxZoom={1.5}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        disableKeyboardA11y
        zoomOnScroll={false}
        zoomOnDoubleClick={false}
        preventScrolling={false}
        colorMode={theme}
        aria-label="Lineage graph"
      >
        <Controls showInteractive={false} position="top-right" />
        <FitOnResize options={fitView} />
      </ReactFlow>
    </div>
  );
}

/** Fits the view again when the graph's width changes (a phone turned, a window resized). */
function FitOnResize({ options }: { options: FitViewOptions }) {
  const width = useStore((s) => s.width);
  const { fitView } = useReactFlow();
  useEffect(() => {
    if (width > 0) void fitView(options);
  }, [width, fitView, options]);
  return null;
}

// React Flow turns pointer events off on nodes it gives no interaction of its
// own (none here: read-only); the link turns them back on for itself.
function TaskNodeView({
  id,
  data,
  positionAbsoluteX: x,
  positionAbsoluteY: y,
}: NodeProps<TaskNode>) {
  const { getViewport, setCenter } = useReactFlow();
  const paneWidth = useStore((s) => s.width);
  const paneHeight = useStore((s) => s.height);
  // Tabbing to a node outside the view brings it into view (React Flow only
  // does that for nodes it makes focusable itself).
  const reveal = () => {
    const view = getViewport();
    const left = x * view.zoom + view.x;
    const top = y * view.zoom + view.y;
    const outside =
      left < 0 ||
      top < 0 ||
      left + NODE_WIDTH * view.zoom > paneWidth ||
      top + NODE_HEIGHT * view.zoom > paneHeight;
    if (outside) void setCenter(x + NODE_WIDTH / 2, y + NODE_HEIGHT / 2, { zoom: view.zoom });
  };
  return (
    <>
      <Handle type="target" position={Position.Top} isConnectable={false} className="invisible" />
      <Link
        to={`/tasks/${id}`}
        data-testid="lineage-node"
        onFocus={reveal}
        aria-current={data.current ? "page" : undefined}
        aria-label={`${data.title}, ${statusLabel(data.status)}, ${data.model}${data.current ? ", this task" : ""}`}
        className={`nopan pointer-events-auto relative flex h-full w-full flex-col justify-between gap-1.5 rounded-lg border bg-surface px-3 py-2 text-left shadow-xs transition-colors hover:border-accent focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-focus ${
          data.current ? "border-accent ring-2 ring-accent/40" : "border-line-strong"
        }`}
      >
        {/* Spaces between the parts and the badge last in the DOM, so the visible
            text reads in the order of the aria-label (WCAG 2.5.3, label in name). */}
        <span className={`truncate text-sm font-medium text-fg ${data.current ? "pe-20" : ""}`}>
          {data.title}
        </span>{" "}
        <span className="flex items-center justify-between gap-2">
          <StatusChip status={data.status} />{" "}
          <span className="truncate font-mono text-[11px] text-fg-subtle">{data.model}</span>
        </span>
        {data.current && (
          <>
            {" "}
            <span className="absolute top-2 right-3 rounded bg-accent px-1.5 py-0.5 text-[10px] font-semibold tracking-wide text-accent-fg uppercase">
              this task
            </span>
          </>
        )}
      </Link>
      <Handle
        type="source"
        position={Position.Bottom}
        isConnectable={false}
        className="invisible"
      />
    </>
  );
}
