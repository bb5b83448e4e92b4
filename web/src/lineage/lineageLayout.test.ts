import { TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { lineageGraph, lineageShape, NODE_HEIGHT } from "./lineageLayout";
import { branching, edge, task, tid } from "./testLineage";

describe("lineageGraph", () => {
  const graph = lineageGraph(branching, tid(2));
  const node = (n: number) => graph.nodes.find((x) => x.id === tid(n));

  it("makes one node per task, top to bottom, with what the node shows", () => {
    expect(graph.nodes.map((n) => n.data.title)).toEqual(["step 1", "step 2", "step 3", "step 4"]);
    expect(node(2)?.data).toEqual({
      title: "step 2",
      status: TaskStatus.COMPLETED,
      model: "simulator/echo",
      current: true,
    });
    expect(node(3)?.data.current).toBe(false);
    expect(node(3)?.data.status).toBe(TaskStatus.RUNNING);
    expect(graph.nodes.every((n) => n.type === "task")).toBe(true);
  });

  it("draws derived edges solid and dependencies dashed with their name", () => {
    const byId = new Map(graph.edges.map((e) => [e.id, e]));
    const derived = byId.get(`${tid(1)}->${tid(2)}`);
    expect(derived).toMatchObject({ source: tid(1), target: tid(2) });
    expect(derived?.style?.strokeDasharray).toBeUndefined();
    expect(derived?.label).toBeUndefined();
    expect(derived?.ariaLabel).toBe("step 2 is made from step 1");
    const dependency = byId.get(`${tid(2)}->${tid(4)}`);
    expect(dependency?.style?.strokeDasharray).toBe("6 4");
    expect(dependency?.label).toBe("summary");
    expect(dependency?.ariaLabel).toBe("step 4 waits for step 2 as summary");
    expect(graph.edges).toHaveLength(3);
  });

  it("lays parents out above their children, siblings side by side", () => {
    const y = (n: number) => node(n)?.position.y ?? Number.NaN;
    const x = (n: number) => node(n)?.position.x ?? Number.NaN;
    expect(y(1)).toBeLessThan(y(2));
    expect(y(2) + NODE_HEIGHT).toBeLessThan(y(3));
    expect(y(3)).toBe(y(4));
    expect(x(3)).not.toBe(x(4));
    expect(graph.height).toBeGreaterThan(3 * NODE_HEIGHT);
  });

  it("leaves out repeated edges and edges to tasks it doesn't hold", () => {
    const messy = {
      ...branching,
      edges: [...branching.edges, edge(1, 2, -1), edge(2, 9, 1)],
    };
    expect(lineageGraph(messy, tid(2)).edges).toHaveLength(3);
  });
});

describe("lineageShape", () => {
  it("changes with the tasks and edges, not with statuses", () => {
    const running = {
      ...branching,
      tasks: branching.tasks.map((t) => ({ ...t, status: TaskStatus.RUNNING })),
    };
    expect(lineageShape(running)).toBe(lineageShape(branching));
    const grown = {
      ...branching,
      tasks: [...branching.tasks, task(5)],
      edges: [...branching.edges, edge(3, 5, 2)],
    };
    expect(lineageShape(grown)).not.toBe(lineageShape(branching));
  });
});
