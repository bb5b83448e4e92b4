import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService, TaskStatus } from "@promptline/proto";
import { pino } from "pino";
import { expect, it } from "vitest";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { deleteRedisKeys, TEST_REDIS_URL, waitFor } from "./harness.js";

it("runs a task end to end on the embedded PGlite database (the `pnpm start` default)", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "promptline-pglite-"));
  const queuePrefix = `pt-${randomUUID().slice(0, 12)}`;
  const config = loadConfig({
    PORT: "0",
    PGLITE_DIR: path.join(dir, "pglite"),
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
  });
  expect(config.databaseUrl).toBeUndefined();
  const app = await startApp(config, pino({ level: "silent" }));
  try {
    expect(app.using.database).toContain("embedded PGlite");
    const client = createClient(
      TaskService,
      createConnectTransport({ baseUrl: app.url ?? "", httpVersion: "1.1" }),
    );
    const { task } = await client.createTask({ prompt: "embedded", model: "simulator/echo" });
    const done = await waitFor(async () => {
      const { task: t } = await client.getTask({ id: task?.id ?? "" });
      return t?.status === TaskStatus.COMPLETED ? t : undefined;
    });
    expect(done.output).toBe("Echo: embedded");
  } finally {
    await app.close();
    await deleteRedisKeys(queuePrefix);
    await rm(dir, { recursive: true, force: true });
  }
});
