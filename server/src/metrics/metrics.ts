import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** One finished RPC, as the observing interceptor saw it. */
export interface RpcSample {
  /** `package.Service/Method`, e.g. `promptline.v1.TaskService/CreateTask`. */
  method: string;
  type: "unary" | "server_stream" | "client_stream" | "bidi_stream";
  /** gRPC's name for the code: `OK`, `NOT_FOUND`, `DEADLINE_EXCEEDED`, … */
  code: string;
  durationMs: number;
}

/** One HTTP request to a model provider, as the worker's provider client ended it. */
export interface ProviderRequestSample {
  /** The provider's configured name (`nim`, `simulator`). */
  provider: string;
  /** The Promptline model id asked for (`simulator/echo`). */
  model: string;
  /** The status the provider answered with; undefined when no response came (connection error, timeout, cancel). */
  httpStatus: number | undefined;
  /** The `ProviderError` code of a failed request; undefined when it succeeded. */
  errorCode: string | undefined;
  durationMs: number;
  usage: { promptTokens: number; completionTokens: number } | undefined;
  costUsd: number | undefined;
}

/** What the worker made of one job (the runner's `RunResult["outcome"]`). */
export type JobOutcome =
  | "completed"
  | "failed"
  | "cancelled"
  | "retrying"
  | "requeued"
  | "deferred"
  | "dropped";

/** The database's and the queue's view at one moment, read when Prometheus scrapes. */
export interface TaskSnapshot {
  /** Tasks by status, every status present. */
  counts: Readonly<Record<string, number>>;
  /** BullMQ jobs of the task queue by state. */
  jobs: { waiting: number; delayed: number; active: number };
}

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC); on by default. */
  processMetrics?: boolean;
}

const RPC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const PROVIDER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Promptline's Prometheus metrics, on a registry of its own (so two apps in
 * one test process never collide). Counters are bumped by the code that
 * sees the event: the RPC interceptor, the provider client wrapper, the
 * worker's job wrapper. Task and queue gauges are read on scrape through
 * {@link Metrics.observeTasks}, cached so scrapes cannot load the database.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #rpcDuration: Histogram<"method" | "type" | "code">;
  readonly #providerRequests: Counter<"provider" | "status" | "code">;
  readonly #providerDuration: Histogram<"provider">;
  readonly #tokens: Counter<"provider" | "model" | "kind">;
  readonly #cost: Counter<"provider" | "model">;
  readonly #jobs: Counter<"outcome">;
  readonly #retries: Counter;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#rpcDuration = new Histogram({
      name: "promptline_rpc_duration_seconds",
      help: "RPCs by method and gRPC status code; a stream counts when it ends",
      labelNames: ["method", "type", "code"],
      buckets: RPC_BUCKETS,
      registers,
    });
    this.#providerRequests = new Counter({
      name: "promptline_provider_requests_total",
      help: "Chat requests sent to model providers, by HTTP status (none: no response) and error code",
      labelNames: ["provider", "status", "code"],
      registers,
    });
    this.#providerDuration = new Histogram({
      name: "promptline_provider_request_duration_seconds",
      help: "Chat requests to model providers, from sending to the end of the answer",
      labelNames: ["provider"],
      buckets: PROVIDER_BUCKETS,
      registers,
    });
    this.#tokens = new Counter({
      name: "promptline_provider_tokens_total",
      help: "Tokens the providers reported, by kind (prompt, completion)",
      labelNames: ["provider", "model", "kind"],
      registers,
    });
    this.#cost = new Counter({
      name: "promptline_provider_cost_usd_total",
      help: "Cost of provider requests in USD, from the model's price (unpriced models add nothing)",
      labelNames: ["provider", "model"],
      registers,
    });
    this.#jobs = new Counter({
      name: "promptline_worker_jobs_total",
      help: "Jobs the workers of this process ended, by outcome (retrying: the attempt failed and the task waits for another)",
      labelNames: ["outcome"],
      registers,
    });
    this.#retries = new Counter({
      name: "promptline_task_retries_total",
      help: "Failed attempts that will be retried",
      registers,
    });
  }

  rpcEnded(sample: RpcSample): void {
    this.#rpcDuration.observe(
      { method: sample.method, type: sample.type, code: sample.code },
      sample.durationMs / 1000,
    );
  }

  providerRequest(sample: ProviderRequestSample): void {
    const provider = sample.provider;
    this.#providerRequests.inc({
      provider,
      status: sample.httpStatus === undefined ? "none" : String(sample.httpStatus),
      code: sample.errorCode ?? "",
    });
    this.#providerDuration.observe({ provider }, sample.durationMs / 1000);
    if (sample.usage !== undefined) {
      const model = sample.model;
      this.#tokens.inc({ provider, model, kind: "prompt" }, sample.usage.promptTokens);
      this.#tokens.inc({ provider, model, kind: "completion" }, sample.usage.completionTokens);
    }
    if (sample.costUsd !== undefined && sample.costUsd > 0) {
      this.#cost.inc({ provider, model: sample.model }, sample.costUsd);
    }
  }

  jobEnded(outcome: JobOutcome): void {
    this.#jobs.inc({ outcome });
    if (outcome === "retrying") this.#retries.inc();
  }

  /**
   * Exposes tasks by status and queue depth, read from `read` when scraped
   * and reused for `cacheMs`. A failed read leaves the series out and sets
   * `promptline_task_stats_up` to 0.
   */
  observeTasks(read: () => Promise<TaskSnapshot>, cacheMs = 5_000): void {
    let cached: { at: number; snapshot: Promise<TaskSnapshot | undefined> } | undefined;
    const snapshot = () => {
      const now = Date.now();
      if (cached === undefined || now - cached.at >= cacheMs) {
        cached = { at: now, snapshot: read().catch(() => undefined) };
      }
      return cached.snapshot;
    };
    const registers = [this.registry];
    new Gauge({
      name: "promptline_task_stats_up",
      help: "1 when the last read of task and queue counts succeeded",
      registers,
      async collect() {
        this.set((await snapshot()) === undefined ? 0 : 1);
      },
    });
    new Gauge({
      name: "promptline_tasks",
      help: "Tasks in the database by status",
      labelNames: ["status"],
      registers,
      async collect() {
        const now = await snapshot();
        this.reset();
        for (const [status, count] of Object.entries(now?.counts ?? {})) {
          this.set({ status }, count);
        }
      },
    });
    new Gauge({
      name: "promptline_queue_jobs",
      help: "Jobs of the task queue in Redis by state (waiting includes prioritized)",
      labelNames: ["state"],
      registers,
      async collect() {
        const now = await snapshot();
        this.reset();
        if (now === undefined) return;
        for (const [state, count] of Object.entries(now.jobs)) this.set({ state }, count);
      },
    });
  }

  /** The exposition text for a scrape. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
