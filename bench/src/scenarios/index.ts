import { createLatency } from "./create-latency.js";
import { e2eLatency } from "./e2e-latency.js";
import { listTasks } from "./list-tasks.js";
import { memory } from "./memory.js";
import type { Scenario } from "./scenario.js";
import { streaming } from "./streaming.js";
import { throughput } from "./throughput.js";
import { utilization } from "./utilization.js";
import { watchLatency } from "./watch-latency.js";

/** Issue 8's scenarios, in its order. */
export const SCENARIOS: readonly Scenario[] = [
  throughput,
  createLatency,
  utilization,
  watchLatency,
  listTasks,
  memory,
  streaming,
  e2eLatency,
];
