import { type DescFile, type DescService, isFieldSet } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as proto from "@promptline/proto";
import { Health, TaskService, TemplateService } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthServiceHandler } from "../src/api/health-service.js";
import { errorInterceptor } from "../src/api/interceptors.js";
import { REQUEST_RULES, validationInterceptor } from "../src/api/request-rules.js";
import { createLogger } from "../src/logger.js";
import { startTestApp, type TestApp } from "./harness.js";

/** Every service of every file the generated package has: whatever the API serves is among them. */
function allServices(): DescService[] {
  const exported: unknown[] = Object.values(proto);
  return exported
    .filter(
      (value): value is DescFile =>
        typeof value === "object" && value !== null && "kind" in value && value.kind === "file",
    )
    .flatMap((file) => file.services);
}

describe("request rules", () => {
  it("are declared for every method of every service, none of which takes a request stream", () => {
    const services = allServices();
    expect(services.map((s) => s.typeName)).toEqual(
      expect.arrayContaining([TaskService.typeName, TemplateService.typeName, Health.typeName]),
    );
    const undeclared = services.flatMap((s) =>
      s.methods
        .filter((m) => !REQUEST_RULES.has(m.input.typeName))
        .map((m) => `${s.typeName}/${m.name}`),
    );
    expect(undeclared, "declare these in server/src/api/request-rules.ts").toEqual([]);
    const streamingRequests = services.flatMap((s) =>
      s.methods
        .filter((m) => m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming")
        .map((m) => `${s.typeName}/${m.name}`),
    );
    expect(streamingRequests).toEqual([]);
  });

  it("refuse a method whose request has none (Internal), before its handler runs", async () => {
    const health = new HealthServiceHandler({ ready: async () => ({}), services: [] });
    const transport = createRouterTransport(({ service }) => service(Health, health), {
      router: {
        interceptors: [
          errorInterceptor(createLogger({ level: "silent", format: "json", secrets: [] }, false)),
          validationInterceptor(new Map()),
        ],
      },
    });
    const error = await createClient(Health, transport)
      .check({})
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(error?.code).toBe(Code.Internal);
    expect(error?.rawMessage).toBe(
      "no request rules are declared for grpc.health.v1.HealthCheckRequest",
    );
    health.close();
  });
});

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.close();
});

const protocols: Array<[string, () => Transport]> = [
  ["Connect", () => createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" })],
  ["gRPC", () => createGrpcTransport({ baseUrl: app.url })],
];

async function codeAndMessage(call: Promise<unknown>) {
  const error = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  return { code: error === undefined ? undefined : Code[error.code], message: error?.rawMessage };
}

describe.each(protocols)("request rules over %s", (_, transport) => {
  it("refuse a bad request as InvalidArgument naming the field, streams included", async () => {
    const tasks = createClient(TaskService, transport());
    const stream = tasks.watchTask({ id: "00000000-0000-4000-8000-000000000000", afterSeq: -1 });
    expect(
      await codeAndMessage(
        (async () => {
          for await (const _ of stream) break;
        })(),
      ),
    ).toEqual({ code: "InvalidArgument", message: "after_seq: must not be negative" });
    expect(await codeAndMessage(tasks.cancelChain({ taskId: "nope" }))).toEqual({
      code: "InvalidArgument",
      message: "task_id: must be a task id (UUID)",
    });
    // The model filter is capped like a created task's model, in the list and its stream.
    const longModel = "m".repeat(201);
    const tooLong = { code: "InvalidArgument", message: "model: must be at most 200 characters" };
    expect(await codeAndMessage(tasks.listTasks({ model: longModel }))).toEqual(tooLong);
    const watching = tasks.watchTasks({ model: longModel });
    expect(
      await codeAndMessage(
        (async () => {
          for await (const _ of watching) break;
        })(),
      ),
    ).toEqual(tooLong);
    expect((await tasks.listTasks({ model: "m".repeat(200) })).tasks).toEqual([]);
    const health = createClient(Health, transport());
    expect(await codeAndMessage(health.check({ service: "x".repeat(201) }))).toEqual({
      code: "InvalidArgument",
      message: "service: must be at most 200 characters",
    });
    // A good request still gets through.
    const ok = await health.check({});
    expect(isFieldSet(ok, proto.HealthCheckResponseSchema.field.status)).toBe(true);
  });
});
