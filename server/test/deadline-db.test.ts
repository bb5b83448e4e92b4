import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { TemplateService } from "@promptline/proto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp, waitFor } from "./harness.js";

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.close();
});

/** Statements of this test's database waiting on a lock (a second connection holds it). */
async function lockWaiters(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`,
  );
  return rows[0]?.n ?? 0;
}

/** Backends of this test's database waiting on a lock. */
async function lockWaiterPids(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>(
    `select pid from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`,
  );
  return rows.map((r) => r.pid);
}

/** A backend's state (idle, active, idle in transaction, …); undefined once it is gone. */
async function stateOf(client: pg.Client, pid: number): Promise<string | undefined> {
  const { rows } = await client.query<{ state: string }>(
    "select state from pg_stat_activity where pid = $1",
    [pid],
  );
  return rows[0]?.state;
}

const protocols: Array<[string, () => Transport]> = [
  ["Connect", () => createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" })],
  ["gRPC", () => createGrpcTransport({ baseUrl: app.url })],
];

describe.each(protocols)("a call's deadline reaches PostgreSQL (%s)", (protocol, transport) => {
  it("cancels a statement stuck behind a lock, freeing its connection", async () => {
    const client = createClient(TemplateService, transport());
    const { template } = await client.createTemplate({
      name: `locked ${protocol}`,
      prompt: "Hello",
      model: "simulator/echo",
    });
    const id = template?.id ?? "";
    // Another connection holds the row, as a long transaction elsewhere would.
    const holder = new pg.Client({ connectionString: app.databaseUrl });
    await holder.connect();
    // Watches pg_stat_activity outside any transaction: inside one, its rows are a
    // snapshot taken at the first read.
    const observer = new pg.Client({ connectionString: app.databaseUrl });
    await observer.connect();
    try {
      await holder.query("begin");
      await holder.query("select 1 from templates where id = $1 for update", [id]);

      const started = Date.now();
      const call = client
        .updateTemplate(
          { template: { id, description: "too late" }, updateMask: { paths: ["description"] } },
          { timeoutMs: 300 },
        )
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      // The app's connection that waits for the lock.
      const waiter = await waitFor(async () => (await lockWaiterPids(observer))[0], {
        what: "the update to wait for the lock",
      });
      const error = await call;
      expect(error?.code).toBe(Code.DeadlineExceeded);
      expect(Date.now() - started).toBeLessThan(5_000);

      // The update's statement was cancelled in the database, not left waiting for the lock.
      await waitFor(async () => ((await lockWaiters(observer)) === 0 ? true : undefined), {
        timeoutMs: 5_000,
        what: "the blocked statement to be cancelled",
      });
      // And its transaction was rolled back on that same connection, which stays in the pool.
      await waitFor(async () => ((await stateOf(observer, waiter)) === "idle" ? true : undefined), {
        timeoutMs: 5_000,
        what: "the cancelled call's connection to be idle again",
      });
    } finally {
      await holder.query("rollback");
      await holder.end();
      await observer.end();
    }
    // Nothing of the abandoned update landed once the lock was gone.
    const { template: after } = await client.getTemplate({ id });
    expect(after?.description).toBe("");
    expect(after?.etag).toBe(template?.etag);
  });
});
