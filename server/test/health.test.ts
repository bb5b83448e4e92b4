import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  Health,
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  TaskService,
} from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CuttableProxy } from "./fault-tools.js";
import { grpcJsClient, grpcUnary } from "./grpc-js-client.js";
import { startTestApp, type TestApp } from "./harness.js";

let proxy: CuttableProxy;
let app: TestApp;
let client: grpc.Client;

beforeAll(async () => {
  const database = new URL(
    process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
  );
  // PostgreSQL behind a proxy the test can cut: an outage no other test sees.
  proxy = await CuttableProxy.start({
    host: database.hostname,
    port: Number(database.port || 5432),
  });
  app = await startTestApp(
    {},
    {
      rewriteDatabaseUrl: (url) => {
        const parsed = new URL(url);
        parsed.host = `127.0.0.1:${proxy.port}`;
        return parsed.toString();
      },
    },
  );
  client = grpcJsClient(app.url);
});

afterAll(async () => {
  client?.close();
  await app?.close();
  await proxy?.cut();
});

const watchPath = `/${Health.typeName}/${Health.method.watch.name}`;

/** A plain grpc-js Watch call; statuses arrive through `onStatus`. */
function watch(
  service: string,
  onStatus: (status: ServingStatus) => void,
): grpc.ClientReadableStream<HealthCheckResponse> {
  const call = client.makeServerStreamRequest(
    watchPath,
    (m: HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, m)),
    (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
    create(HealthCheckRequestSchema, { service }),
  );
  call.on("data", (m: HealthCheckResponse) => onStatus(m.status));
  call.on("error", () => undefined);
  return call;
}

/** Resolves when `statuses` has `count` entries (each arrival calls `notify`). */
function collector() {
  const statuses: ServingStatus[] = [];
  let waiters: Array<() => void> = [];
  return {
    statuses,
    push(status: ServingStatus) {
      statuses.push(status);
      for (const wake of waiters) wake();
      waiters = [];
    },
    async count(n: number) {
      while (statuses.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

describe("grpc.health.v1.Health over @grpc/grpc-js", () => {
  it("answers SERVING for the server and each service, NOT_FOUND for an unknown one", async () => {
    for (const service of ["", TaskService.typeName, Health.typeName]) {
      const { status } = await grpcUnary(client, Health.method.check, { service });
      expect(ServingStatus[status]).toBe("SERVING");
    }
    const error = await grpcUnary(client, Health.method.check, { service: "no.Such" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: grpc.status.NOT_FOUND });
    const list = await grpcUnary(client, Health.method.list, {});
    expect(Object.keys(list.statuses).sort()).toEqual(
      [
        "",
        "grpc.health.v1.Health",
        "promptline.v1.AdminService",
        "promptline.v1.AuthService",
        "promptline.v1.TaskService",
        "promptline.v1.TemplateService",
      ].sort(),
    );
  });

  it("keeps a Watch for an unknown service open with SERVICE_UNKNOWN", async () => {
    const seen = collector();
    const call = watch("no.Such", (s) => seen.push(s));
    await seen.count(1);
    expect(seen.statuses).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    call.cancel();
  });

  it("turns NOT_SERVING while PostgreSQL is away, and SERVING again after; Watch sees both", async () => {
    const seen = collector();
    const call = watch("", (s) => seen.push(s));
    try {
      await seen.count(1);
      expect(seen.statuses).toEqual([ServingStatus.SERVING]);

      await proxy.cut();
      await seen.count(2);
      expect(seen.statuses[1]).toBe(ServingStatus.NOT_SERVING);
      const { status } = await grpcUnary(client, Health.method.check, { service: "" });
      expect(status).toBe(ServingStatus.NOT_SERVING);
      expect((await fetch(`${app.url}/readyz`)).status).toBe(503);

      await proxy.restore();
      await seen.count(3);
      expect(seen.statuses[2]).toBe(ServingStatus.SERVING);
    } finally {
      call.cancel();
    }
  }, 20_000);
});
