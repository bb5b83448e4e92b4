import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@promptline/proto";
import type { ReadinessCheck } from "./http-server.js";

export interface HealthOptions {
  /** The /readyz checks: SERVING when every one passes. */
  ready: ReadinessCheck;
  /** Full names of the services served; each can be asked about, "" means the server. */
  services: readonly string[];
  /** A check that takes longer than this counts as failed. */
  checkTimeoutMs?: number;
  /** How often a Watch stream looks again; checks are shared within this window. */
  pollMs?: number;
}

/**
 * `grpc.health.v1.Health`, for load balancers, Kubernetes gRPC probes and
 * `grpc_health_probe`. Every service of this server needs the same two
 * things, PostgreSQL and Redis, so all have one status: SERVING when both
 * answer (the /readyz checks), NOT_SERVING otherwise and once shutting down.
 */
export class HealthServiceHandler implements ServiceImpl<typeof Health> {
  readonly #ready: ReadinessCheck;
  readonly #known: ReadonlySet<string>;
  readonly #checkTimeoutMs: number;
  readonly #pollMs: number;
  readonly #closed = new AbortController();
  #last: { at: number; status: Promise<ServingStatus> } | undefined;

  constructor(options: HealthOptions) {
    this.#ready = options.ready;
    this.#known = new Set(["", ...options.services]);
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
    this.#pollMs = options.pollMs ?? 1_000;
  }

  async check(req: HealthCheckRequest) {
    if (!this.#known.has(req.service)) {
      throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
    }
    return create(HealthCheckResponseSchema, { status: await this.#status() });
  }

  async list() {
    const status = await this.#status();
    return create(HealthListResponseSchema, {
      statuses: Object.fromEntries(
        [...this.#known].map((name) => [name, create(HealthCheckResponseSchema, { status })]),
      ),
    });
  }

  async *watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncGenerator<HealthCheckResponse> {
    const stop = AbortSignal.any([ctx.signal, this.#closed.signal]);
    if (!this.#known.has(req.service)) {
      // The standard keeps the stream open: the service may become known later (never, here).
      yield create(HealthCheckResponseSchema, { status: ServingStatus.SERVICE_UNKNOWN });
      await sleep(Number.POSITIVE_INFINITY, stop);
      return;
    }
    let sent: ServingStatus | undefined;
    while (!stop.aborted) {
      const status = await this.#status();
      if (status !== sent) {
        sent = status;
        yield create(HealthCheckResponseSchema, { status });
      }
      await sleep(this.#pollMs, stop);
    }
    if (this.#closed.signal.aborted && sent !== ServingStatus.NOT_SERVING) {
      yield create(HealthCheckResponseSchema, { status: ServingStatus.NOT_SERVING });
    }
  }

  /** Shutting down: every status turns NOT_SERVING and Watch streams end, so the server can drain. */
  close(): void {
    this.#closed.abort();
  }

  #status(): Promise<ServingStatus> {
    if (this.#closed.signal.aborted) return Promise.resolve(ServingStatus.NOT_SERVING);
    const now = Date.now();
    if (this.#last === undefined || now - this.#last.at >= this.#pollMs) {
      this.#last = { at: now, status: this.#probe() };
    }
    return this.#last.status;
  }

  async #probe(): Promise<ServingStatus> {
    const timeout = AbortSignal.timeout(this.#checkTimeoutMs);
    const timedOut = new Promise<undefined>((resolve) =>
      timeout.addEventListener("abort", () => resolve(undefined), { once: true }),
    );
    const checks = await Promise.race([this.#ready().catch(() => undefined), timedOut]);
    const ok = checks !== undefined && Object.values(checks).every((c) => c.ok);
    return ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }
}

/** Resolves after `ms`, or as soon as `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener("abort", done, { once: true });
  });
}
