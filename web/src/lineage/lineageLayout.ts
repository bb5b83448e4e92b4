import { type EdgeLabel, Graph, type GraphLabel, layout, type NodeLabel } from "@dagrejs/dagre";
import type { TaskStatus } from "@promptline/proto";
import type { Edge, Node } from "@xyflow/react";
import { taskTitle } from "../format";
import { edgeKind, type Lineage, tasksInOrder } from "./lineage";

/** A task node's size in the graph, in CSS pixels at zoom 1 (the node component fills it). */
export const NODE_WIDTH = 232;
export const NODE_HEIGHT = 84;

const RANK_GAP = 56;
const NODE_GAP = 32;

/** What a task node shows. */
export interface TaskNodeData extends Record<string, unknown> {
  title: string;
  status: TaskStatus;
  model: string;
  /** The task the page is about, highlighted. */
  current: boolean;
}

/** A task as a React Flow node of the custom type "task". */
export type TaskNode = Node<TaskNodeData, "task">;

/** A laid-out lineage, ready for React Flow. */
export interface LineageGraphModel {
  /** Top to bottom, so keyboard focus moves down the graph. */
  nodes: TaskNode[];
  edges: Edge[];
  /** The drawing's size at zoom 1. */
  width: number;
  height: number;
}

/**
 * Turns a lineage into React Flow nodes and edges, laid out top to bottom by
 * dagre: parents above children, `derived` edges solid, `depends_on` edges
 * dashed and labelled with the dependency's name. Edges whose ends are not in
 * the lineage are left out. Pure: the same lineage gives the same drawing.
 */
export function lineageGraph(lineage: Lineage, currentId: string): LineageGraphModel {
  const tasks = tasksInOrder(lineage, currentId);
  const ids = new Set(tasks.map((t) => t.id));
  const titles = new Map(tasks.map((t) => [t.id, taskTitle(t, 48)]));

  const seen = new Set<string>();
  const edges: Edge[] = [];
  for (const e of lineage.edges) {
    const id = `${e.parentId}->${e.childId}`;
    if (seen.has(id) || !ids.has(e.parentId) || !ids.has(e.childId)) continue;
    seen.add(id);
    const dependency = edgeKind(e.kind) === "depends_on";
    const from = titles.get(e.parentId) ?? e.parentId;
    const to = titles.get(e.childId) ?? e.childId;
    edges.push({
      id,
      source: e.parentId,
      target: e.childId,
      className: dependency ? "lineage-edge-dependency" : "lineage-edge-derived",
      markerEnd: { type: "arrowclosed", width: 16, height: 16 },
      ariaLabel: dependency
        ? `${to} waits for ${from}${e.name !== "" ? ` as ${e.name}` : ""}`
        : `${to} is made from ${from}`,
      ...(dependency ? { style: { strokeDasharray: "6 4" } } : {}),
      ...(dependency && e.name !== "" ? { label: e.name } : {}),
    });
  }

  const g = new Graph<GraphLabel, NodeLabel, EdgeLabel>();
  g.setGraph({ rankdir: "TB", ranksep: RANK_GAP, nodesep: NODE_GAP, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const t of tasks) g.setNode(t.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) g.setEdge(e.source, e.target);
  layout(g);

  const nodes: TaskNode[] = tasks.map((t) => {
    const placed: NodeLabel | undefined = g.node(t.id);
    return {
      id: t.id,
      type: "task",
      // dagre gives centres; React Flow wants top-left corners.
      position: { x: (placed?.x ?? 0) - NODE_WIDTH / 2, y: (placed?.y ?? 0) - NODE_HEIGHT / 2 },
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      data: {
        title: titles.get(t.id) ?? t.id,
        status: t.status,
        model: t.model,
        current: t.id === currentId,
      },
    };
  });
  const size = g.graph();
  return { nodes, edges, width: size.width ?? NODE_WIDTH, height: size.height ?? NODE_HEIGHT };
}

/**
 * What the drawing's layout depends on: the tasks and the edges, not their
 * statuses. The graph is laid out and fitted again only when this changes.
 */
export function lineageShape(lineage: Lineage): string {
  const nodes = lineage.tasks.map((t) => t.id).sort();
  const edges = lineage.edges.map((e) => `${e.parentId}>${e.childId}:${e.kind}:${e.name}`).sort();
  return `${nodes.join(",")}|${edges.join(",")}`;
}
