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
    try {
      await holder.query("begin");
      await holder.query("select 1 from templates where id = $1 for update", [id]);

      const started = Date.now();
      const error = await client
        .updateTemplate(
          { template: { id, description: "too late" }, updateMask: { paths: ["description"] } },
          { timeoutMs: 300 },
        )
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(error?.code).toBe(Code.DeadlineExceeded);
      expect(Date.now() - started).toBeLessThan(5_000);

      // The update's statement was cancelled in the database, not left waiting for the lock.
      await waitFor(async () => ((await lockWaiters(holder)) === 0 ? true : undefined), {
        timeoutMs: 5_000,
        what: "the blocked statement to be cancelled",
      });
    } finally {
      await holder.query("rollback");
      await holder.end();
    }
    // Nothing of the abandoned update landed once the lock was gone.
    const { template: after } = await client.getTemplate({ id });
    expect(after?.description).toBe("");
    expect(after?.etag).toBe(template?.etag);
  });
});
