import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Task, TaskService, TaskStatus } from "@promptline/proto";
import { waitFor } from "./harness.js";

export type TaskClient = Client<typeof TaskService>;

const TERMINAL = new Set([TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED]);

/** A Connect client (HTTP/1.1, like a browser) for a started app. */
export function connectClient(baseUrl: string): TaskClient {
  return createClient(TaskService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
}

/** Waits until the task reached a terminal status, and returns it. */
export async function settled(client: TaskClient, id: string, timeoutMs = 20_000): Promise<Task> {
  return waitFor(
    async () => {
      const { task } = await client.getTask({ id });
      return task !== undefined && TERMINAL.has(task.status) ? task : undefined;
    },
    { timeoutMs, what: `task ${id} to finish` },
  );
}

/** Waits until the task shows `status` (e.g. running). */
export async function reached(
  client: TaskClient,
  id: string,
  status: TaskStatus,
  timeoutMs = 20_000,
): Promise<Task> {
  return waitFor(
    async () => {
      const { task } = await client.getTask({ id });
      return task?.status === status ? task : undefined;
    },
    { timeoutMs, what: `task ${id} to be ${TaskStatus[status]}` },
  );
}
