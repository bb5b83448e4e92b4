import type { Interceptor } from "@connectrpc/connect";
import {
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
} from "@opentelemetry/semantic-conventions";
import type { Logger } from "pino";
import { kRequestId } from "../api/context.js";
import { grpcCodeName } from "../api/observe.js";
import type { TracingConfig } from "../config.js";
import { ProviderError } from "../llm/errors.js";
import type { OpenAiClient } from "../llm/openai-client.js";
import type { ProviderRegistry } from "../llm/providers.js";
import type { RunResult } from "../tasks/runner.js";

const SCOPE = "promptline";

/**
 * OpenTelemetry tracing for one process, made only when tracing is
 * configured: every hook elsewhere is installed by app.ts from this object,
 * so with tracing off no span, context or traceparent exists on any path.
 *
 * Nothing is registered globally: the context manager and tracer provider
 * belong to this instance, so two apps in one process (tests) do not mix.
 */
export class Tracing {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;
  readonly #contexts = new AsyncLocalStorageContextManager().enable();
  readonly #propagator = new W3CTraceContextPropagator();
  readonly #log: Logger;

  constructor(config: TracingConfig, log: Logger) {
    const exporterOptions = {
      url: config.url,
      headers: config.headers,
      timeoutMillis: config.timeoutMs,
    };
    const exporter =
      config.protocol === "http/json"
        ? new OtlpJsonExporter(exporterOptions)
        : new OtlpProtobufExporter(exporterOptions);
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({
        ...config.resourceAttributes,
        [ATTR_SERVICE_NAME]: config.serviceName,
      }),
      sampler: sampler(config),
      spanProcessors: [new BatchSpanProcessor({ exporter })],
    });
    this.#tracer = this.#provider.getTracer(SCOPE);
    // Export failures (collector down, spans refused) reach OTel's diag
    // logger, which is process-wide: the last app started owns it.
    const otelLog = log.child({ component: "opentelemetry" });
    this.#log = otelLog;
    const warn = (message: string, ...args: unknown[]) =>
      otelLog.warn(
        { details: args.map((a) => (a instanceof Error ? a.message : String(a))) },
        message,
      );
    const quiet = () => {};
    diag.setLogger(
      { error: warn, warn, info: quiet, debug: quiet, verbose: quiet },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    log.info({ url: config.url, protocol: config.protocol, sampler: config.sampler }, "tracing on");
  }

  /**
   * One server span per RPC, a child of the caller's traceparent when it
   * sent one, with the gRPC status the client gets. Handlers run inside its
   * context, so a task they enqueue carries it (see {@link traceparent}).
   * Must sit inside the request-id interceptor and outside the error mapping.
   */
  rpcInterceptor(): Interceptor {
    return (next) => async (req) => {
      const parent = this.#propagator.extract(ROOT_CONTEXT, req.header, headersGetter);
      const span = this.#tracer.startSpan(
        `${req.service.typeName}/${req.method.name}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": rpcSystem(req.header.get("content-type")),
            "rpc.service": req.service.typeName,
            "rpc.method": req.method.name,
            "promptline.request_id": req.contextValues.get(kRequestId),
          },
        },
        parent,
      );
      const end = (code: string, error?: unknown) => {
        span.setAttribute("rpc.grpc.status_code", code);
        if (error !== undefined) {
          span.setAttribute(ATTR_ERROR_TYPE, code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
        }
        span.end();
      };
      const ctx = trace.setSpan(parent, span);
      try {
        const res = await this.#contexts.with(ctx, () => next(req));
        if (!res.stream) {
          end("OK");
          return res;
        }
        return { ...res, message: traceStream(res.message, end) };
      } catch (error) {
        end(grpcCodeName(error), error);
        throw error;
      }
    };
  }

  /**
   * The W3C traceparent of the span running now (the RPC that creates a
   * task), for the task's queue job; undefined outside a sampled span.
   */
  traceparent(): string | undefined {
    const carrier: Record<string, string> = {};
    this.#propagator.inject(this.#contexts.active(), carrier, defaultTextMapSetter);
    return carrier.traceparent;
  }

  /**
   * Runs one task as a consumer span, a child of the RPC that queued it when
   * the job carries its traceparent; provider calls made inside are its children.
   */
  async runTask(
    taskId: string,
    traceparent: string | undefined,
    run: () => Promise<RunResult>,
  ): Promise<RunResult> {
    const parent =
      traceparent === undefined
        ? ROOT_CONTEXT
        : this.#propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
    const span = this.#tracer.startSpan(
      "process tasks",
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "bullmq",
          "messaging.operation.type": "process",
          "messaging.destination.name": "tasks",
          "promptline.task_id": taskId,
        },
      },
      parent,
    );
    try {
      const result = await this.#contexts.with(trace.setSpan(parent, span), run);
      span.setAttribute("promptline.outcome", result.outcome);
      return result;
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * The registry with every chat call in a client span whose traceparent is
   * sent to the provider, so its own traces join ours.
   */
  traceProviders(registry: ProviderRegistry): ProviderRegistry {
    return {
      get providers() {
        return registry.providers;
      },
      resolve: (modelId) => {
        const resolved = registry.resolve(modelId);
        return { ...resolved, client: this.#traceClient(resolved.client, resolved.upstreamModel) };
      },
      listModels: (options) => registry.listModels(options),
      costUsd: (modelId, usage) => registry.costUsd(modelId, usage),
      tryAcquire: (modelId, estimatedTokens) => registry.tryAcquire(modelId, estimatedTokens),
      limitsTokens: (modelId) => registry.limitsTokens(modelId),
      pause: (modelId, ms) => registry.pause(modelId, ms),
    };
  }

  #traceClient(client: OpenAiClient, model: string): OpenAiClient {
    const url = `${client.baseUrl}/chat/completions`;
    return {
      name: client.name,
      baseUrl: client.baseUrl,
      listModels: (options) => client.listModels(options),
      chat: async (request, options) => {
        const parent = this.#contexts.active();
        const span = this.#tracer.startSpan(
          `chat ${model}`,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              "gen_ai.operation.name": "chat",
              "gen_ai.provider.name": client.name,
              "gen_ai.request.model": model,
              [ATTR_HTTP_REQUEST_METHOD]: "POST",
              [ATTR_URL_FULL]: url,
              [ATTR_SERVER_ADDRESS]: new URL(url).hostname,
            },
          },
          parent,
        );
        const carrier: Record<string, string> = {};
        this.#propagator.inject(trace.setSpan(parent, span), carrier, defaultTextMapSetter);
        try {
          const result = await client.chat(request, {
            ...options,
            traceparent: carrier.traceparent,
          });
          span.setAttributes({
            [ATTR_HTTP_RESPONSE_STATUS_CODE]: 200,
            "gen_ai.response.model": result.responseModel,
            ...(result.usage === undefined
              ? {}
              : {
                  "gen_ai.usage.input_tokens": result.usage.promptTokens,
                  "gen_ai.usage.output_tokens": result.usage.completionTokens,
                }),
          });
          return result;
        } catch (error) {
          failed(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
    };
  }

  /** Exports what is still buffered, then stops; part of the app's close. */
  async close(): Promise<void> {
    try {
      await this.#provider.shutdown();
    } catch (err) {
      // Not a shutdown failure: only these spans are lost.
      this.#log.warn({ err }, "the last spans could not be exported");
    } finally {
      this.#contexts.disable();
    }
  }
}

function sampler(config: TracingConfig): Sampler {
  const root = (name: string): Sampler => {
    if (name.endsWith("always_off")) return new AlwaysOffSampler();
    if (name.endsWith("traceidratio")) return new TraceIdRatioBasedSampler(config.ratio);
    return new AlwaysOnSampler();
  };
  return config.sampler.startsWith("parentbased_")
    ? new ParentBasedSampler({ root: root(config.sampler) })
    : root(config.sampler);
}

/** `grpc` for gRPC and gRPC-web, `connect_rpc` for the Connect protocol (the semconv names). */
function rpcSystem(contentType: string | null): string {
  return contentType?.startsWith("application/grpc") ? "grpc" : "connect_rpc";
}

const headersGetter = {
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
  keys: (headers: Headers) => [...headers.keys()],
};

async function* traceStream<T>(
  messages: AsyncIterable<T>,
  end: (code: string, error?: unknown) => void,
): AsyncIterable<T> {
  let code = "CANCELLED";
  let failure: unknown;
  try {
    yield* messages;
    code = "OK";
  } catch (error) {
    code = grpcCodeName(error);
    failure = error;
    throw error;
  } finally {
    end(code, failure);
  }
}

function failed(span: Span, error: unknown): void {
  if (error instanceof ProviderError) {
    if (error.httpStatus !== undefined) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, error.httpStatus);
    }
    span.setAttribute(ATTR_ERROR_TYPE, error.code);
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
