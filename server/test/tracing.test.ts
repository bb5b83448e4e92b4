import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { TaskService, TaskStatus } from "@promptline/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { type Simulator, startSimulator } from "../src/llm/simulator.js";
import { grpcJsClient, grpcUnary } from "./grpc-js-client.js";
import { startTestApp } from "./harness.js";
import { settled } from "./task-client.js";

/** A span as the OTLP/HTTP JSON encoding writes it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
}

const SPAN_KIND = { server: 2, client: 3, consumer: 5 } as const;

/** A real OTLP/HTTP endpoint: keeps every export request it is sent. */
class OtlpReceiver {
  readonly requests: Array<{ path: string; contentType: string; body: Buffer }> = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const contentType = req.headers["content-type"] ?? "";
        receiver.requests.push({ path: req.url ?? "", contentType, body: Buffer.concat(chunks) });
        // An empty ExportTraceServiceResponse: everything accepted.
        res
          .writeHead(200, { "content-type": contentType })
          .end(contentType.includes("json") ? "{}" : "");
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Every span of every JSON export so far, with its resource's service.name. */
  spans(): Array<OtlpSpan & { service: string }> {
    return this.requests
      .filter((r) => r.contentType.includes("json"))
      .flatMap((r) => {
        const body = JSON.parse(r.body.toString()) as {
          resourceSpans: Array<{
            resource: { attributes: OtlpSpan["attributes"] };
            scopeSpans: Array<{ spans: OtlpSpan[] }>;
          }>;
        };
        return body.resourceSpans.flatMap((rs) => {
          const service = String(attr({ attributes: rs.resource.attributes }, "service.name"));
          return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ ...span, service })));
        });
      });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** An attribute's value, whatever its OTLP type (int64 comes as a string in JSON). */
function attr(span: Pick<OtlpSpan, "attributes">, key: string): unknown {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  if ("intValue" in value) return Number(value.intValue);
  return Object.values(value)[0];
}

/** The one span that matches, or a failure that lists what was exported. */
function only(spans: OtlpSpan[], match: (span: OtlpSpan) => boolean, what: string): OtlpSpan {
  const found = spans.filter(match);
  if (found.length !== 1) {
    throw new Error(
      `expected one ${what}, found ${found.length} among ${spans.map((s) => s.name).join(", ")}`,
    );
  }
  return found[0] as OtlpSpan;
}

/** The `00-<trace id>-<span id>-<flags>` header the simulator received for a prompt. */
function traceparentSeen(simulator: Simulator, prompt: string): string | undefined {
  const request = simulator
    .stats()
    .recent.find(
      (r) => r.path.endsWith("/chat/completions") && JSON.stringify(r.body).includes(prompt),
    );
  if (request === undefined) throw new Error(`the simulator saw no request for ${prompt}`);
  return request.headers.traceparent;
}

let simulator: Simulator;
let receiver: OtlpReceiver;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0 });
  receiver = await OtlpReceiver.start();
});

afterAll(async () => {
  await receiver?.close();
  await simulator?.close();
});

describe("tracing on (OTLP http/json)", () => {
  it("traces an RPC, the task's run and the provider call in one trace, over Connect and gRPC", async () => {
    const app = await startTestApp({
      SIMULATOR_URL: simulator.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "promptline-test",
    });
    let closed = false;
    try {
      const connect = createClient(
        TaskService,
        createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
      );
      const viaConnect = await connect.createTask(
        { prompt: "traced over connect", model: "simulator/echo" },
        { headers: { "x-request-id": "trace-connect-1" } },
      );
      const grpcClient = grpcJsClient(app.url);
      const metadata = new grpc.Metadata();
      metadata.set("x-request-id", "trace-grpc-1");
      const viaGrpc = await grpcUnary(
        grpcClient,
        TaskService.method.createTask,
        { prompt: "traced over grpc", model: "simulator/echo" },
        metadata,
      ).finally(() => grpcClient.close());
      // A caller already tracing: the RPC joins its trace.
      const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
      await connect.listModels(
        {},
        { headers: { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` } },
      );
      for (const id of [viaConnect.task?.id, viaGrpc.task?.id]) {
        expect((await settled(connect, id ?? "")).status).toBe(TaskStatus.COMPLETED);
      }
      // Closing flushes the spans still buffered.
      await app.close();
      closed = true;

      expect(receiver.requests.every((r) => r.path === "/v1/traces")).toBe(true);
      const spans = receiver.spans();
      expect(new Set(spans.map((s) => s.service))).toEqual(new Set(["promptline-test"]));
      for (const [system, requestId, prompt, taskId] of [
        ["connect_rpc", "trace-connect-1", "traced over connect", viaConnect.task?.id],
        ["grpc", "trace-grpc-1", "traced over grpc", viaGrpc.task?.id],
      ] as const) {
        const rpc = only(
          spans,
          (s) => attr(s, "promptline.request_id") === requestId,
          `${requestId} span`,
        );
        expect(rpc.name).toBe("promptline.v1.TaskService/CreateTask");
        expect(rpc.kind).toBe(SPAN_KIND.server);
        expect(rpc.parentSpanId ?? "").toBe("");
        expect(attr(rpc, "rpc.system")).toBe(system);
        expect(attr(rpc, "rpc.service")).toBe("promptline.v1.TaskService");
        expect(attr(rpc, "rpc.method")).toBe("CreateTask");
        expect(attr(rpc, "rpc.grpc.status_code")).toBe("OK");

        const run = only(
          spans,
          (s) => attr(s, "promptline.task_id") === taskId,
          `worker span of ${taskId}`,
        );
        expect(run.kind).toBe(SPAN_KIND.consumer);
        expect(run.traceId).toBe(rpc.traceId);
        expect(run.parentSpanId).toBe(rpc.spanId);
        expect(attr(run, "promptline.outcome")).toBe("completed");

        const call = only(
          spans,
          (s) => s.kind === SPAN_KIND.client && s.parentSpanId === run.spanId,
          `provider span of ${taskId}`,
        );
        expect(call.traceId).toBe(rpc.traceId);
        expect(call.name).toBe("chat echo");
        expect(attr(call, "gen_ai.request.model")).toBe("echo");
        expect(attr(call, "http.response.status_code")).toBe(200);

        // The provider got the client span's context, so its own traces join ours.
        expect(traceparentSeen(simulator, prompt)).toBe(`00-${rpc.traceId}-${call.spanId}-01`);
      }
      const listModels = only(
        spans,
        (s) => s.name === "promptline.v1.TaskService/ListModels",
        "ListModels span",
      );
      expect(listModels.traceId).toBe(callerTrace);
      expect(listModels.parentSpanId).toBe("00f067aa0ba902b7");
    } finally {
      if (!closed) await app.close();
      receiver.requests.length = 0;
    }
  });

  it("exports OTLP protobuf by default, and a failed RPC's span carries its status", async () => {
    const app = await startTestApp({
      SIMULATOR_URL: simulator.url,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces`,
    });
    try {
      const connect = createClient(
        TaskService,
        createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
      );
      await expect(connect.getTask({ id: "not-a-task" })).rejects.toThrow();
    } finally {
      await app.close();
    }
    const exports = receiver.requests.splice(0);
    expect(exports.length).toBeGreaterThan(0);
    for (const r of exports) {
      expect(r.path).toBe("/custom/traces");
      expect(r.contentType).toBe("application/x-protobuf");
    }
    const body = Buffer.concat(exports.map((r) => r.body));
    // Strings are stored verbatim in protobuf: the span name and its status attribute.
    expect(body.includes("promptline.v1.TaskService/GetTask")).toBe(true);
    expect(body.includes("INVALID_ARGUMENT")).toBe(true);
  });
});

describe("an unreachable collector", () => {
  it("is logged as a warning, and the service keeps working", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const closedPort = await OtlpReceiver.start();
    const deadUrl = closedPort.url;
    await closedPort.close();
    const app = await startTestApp(
      {
        SIMULATOR_URL: simulator.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: deadUrl,
        OTEL_EXPORTER_OTLP_TIMEOUT: "500",
      },
      { log: pino({ level: "warn" }, sink) },
    );
    try {
      const connect = createClient(
        TaskService,
        createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
      );
      const { task } = await connect.createTask({
        prompt: "collector down",
        model: "simulator/echo",
      });
      expect((await settled(connect, task?.id ?? "")).status).toBe(TaskStatus.COMPLETED);
    } finally {
      await app.close();
    }
    const warnings = lines.map((line) => JSON.parse(line) as { component?: string; level: number });
    expect(warnings.some((w) => w.component === "opentelemetry" && w.level === 40)).toBe(true);
  });
});

describe("tracing off (the default)", () => {
  it("exports nothing and sends no traceparent to the provider", async () => {
    receiver.requests.length = 0;
    const app = await startTestApp({ SIMULATOR_URL: simulator.url });
    try {
      const connect = createClient(
        TaskService,
        createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
      );
      const { task } = await connect.createTask(
        { prompt: "not traced", model: "simulator/echo" },
        // Even a caller's traceparent is not passed on.
        { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
      );
      expect((await settled(connect, task?.id ?? "")).status).toBe(TaskStatus.COMPLETED);
      expect(traceparentSeen(simulator, "not traced")).toBeUndefined();
    } finally {
      await app.close();
    }
    expect(receiver.requests).toEqual([]);
  });
});

describe("tracing configuration", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems.map((p) => `${p.variable}: ${p.message}`);
    }
  };

  it("is off by default, with OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true", () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: "none" }).tracing).toBeUndefined();
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: "TRUE" }).tracing).toBeUndefined();
  });

  it("is on with an endpoint or OTEL_TRACES_EXPORTER=otlp, with the spec's defaults", () => {
    expect(loadConfig({ OTEL_TRACES_EXPORTER: "otlp" }).tracing).toEqual({
      url: "http://localhost:4318/v1/traces",
      protocol: "http/protobuf",
      headers: {},
      timeoutMs: 10_000,
      serviceName: "promptline",
      resourceAttributes: {},
      sampler: "parentbased_always_on",
      ratio: 1,
    });
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4318/",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20s3cret,x-tenant=a",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=b",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=prod,service.name=from-attrs",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_EXPORTER_OTLP_TIMEOUT: "3000",
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "2000",
    });
    expect(config.tracing).toMatchObject({
      url: "https://collector:4318/v1/traces",
      headers: { authorization: "Bearer s3cret", "x-tenant": "b" },
      serviceName: "from-attrs",
      sampler: "parentbased_traceidratio",
      ratio: 0.25,
      timeoutMs: 2000,
    });
    // Collector credentials stay out of the logs.
    expect(config.log.secrets).toContain("Bearer s3cret");
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/traces",
        OTEL_SERVICE_NAME: "api-eu",
      }).tracing,
    ).toMatchObject({ url: "http://b:4318/traces", serviceName: "api-eu" });
  });

  it("names the variable of every bad value", () => {
    expect(
      problems({
        OTEL_TRACES_EXPORTER: "zipkin",
        OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_HEADERS: "authorization",
        OTEL_EXPORTER_OTLP_TIMEOUT: "soon",
        OTEL_TRACES_SAMPLER: "sometimes",
        OTEL_TRACES_SAMPLER_ARG: "1.5",
        OTEL_SDK_DISABLED: "yes",
      }),
    ).toEqual([
      "OTEL_SDK_DISABLED: must be true or false",
      "OTEL_TRACES_EXPORTER: must be otlp or none",
      "OTEL_EXPORTER_OTLP_ENDPOINT: must be a URL like http://collector:4318",
      "OTEL_EXPORTER_OTLP_PROTOCOL: must be http/protobuf or http/json (grpc is not supported)",
      'OTEL_EXPORTER_OTLP_HEADERS: "authorization": must be key=value (comma-separated, values percent-encoded)',
      "OTEL_EXPORTER_OTLP_TIMEOUT: must be a whole number from 1 to 600000",
      "OTEL_TRACES_SAMPLER: must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
      "OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1",
    ]);
    expect(
      problems({
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_TRACES_SAMPLER: "always_on",
        OTEL_TRACES_SAMPLER_ARG: "0.5",
      }),
    ).toEqual([
      "OTEL_TRACES_SAMPLER_ARG: is set but OTEL_TRACES_SAMPLER=always_on takes no argument",
    ]);
  });
});
