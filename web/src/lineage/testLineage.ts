import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { LineageEdgeSchema, type Task, TaskSchema, TaskStatus } from "@promptline/proto";
import type { Lineage } from "./lineage";

/** Lineages for the unit tests of lineage.ts and lineageLayout.ts. */

// UUIDv7-like ids: a larger number is a newer task.
export const tid = (n: number) => `01963b4e-0000-7000-8000-${String(n).padStart(12, "0")}`;

export function task(
  n: number,
  status = TaskStatus.COMPLETED,
  extra: MessageInitShape<typeof TaskSchema> = {},
): Task {
  return create(TaskSchema, {
    id: tid(n),
    name: `step ${n}`,
    status,
    model: "simulator/echo",
    updatedAt: timestampFromMs(1000),
    ...extra,
  });
}

export const edge = (parent: number, child: number, depth: number, kind = "derived", name = "") =>
  create(LineageEdgeSchema, { parentId: tid(parent), childId: tid(child), kind, name, depth });

// 1 → 2 → 3, with 4 waiting for 2 as "summary"; seen from 2.
export const branching: Lineage = {
  tasks: [task(3, TaskStatus.RUNNING), task(1), task(4, TaskStatus.PENDING), task(2)],
  edges: [edge(1, 2, -1), edge(2, 3, 1), edge(2, 4, 1, "depends_on", "summary")],
  totals: undefined,
};
