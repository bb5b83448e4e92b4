import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AdminService, AuthService, Health, TaskService, TemplateService } from "@promptline/proto";
import { Redis } from "ioredis";
import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import { AdminServiceHandler } from "./api/admin-service.js";
import { AuthServiceHandler } from "./api/auth-service.js";
import { deadlineInterceptor } from "./api/deadline.js";
import { HealthServiceHandler } from "./api/health-service.js";
import { type ApiServer, type ReadinessCheck, startApiServer } from "./api/http-server.js";
import { errorInterceptor, requestIdInterceptor } from "./api/interceptors.js";
import { observeInterceptor } from "./api/observe.js";
import { validationInterceptor } from "./api/request-rules.js";
import { TaskServiceHandler } from "./api/task-service.js";
import { TemplateServiceHandler } from "./api/template-service.js";
import { WatchHandlers } from "./api/watch.js";
import { Authenticator } from "./auth/authenticator.js";
import { authInterceptor } from "./auth/interceptor.js";
import type { Config } from "./config.js";
import { countActiveKeys } from "./db/auth.js";
import { createPgliteDb, createPostgresDb } from "./db/connection.js";
import { migrateToLatest } from "./db/migrate.js";
import type { DB } from "./db/schema.js";
import { TaskFeed } from "./events/feed.js";
import { RedisTaskNotifier } from "./events/publisher.js";
import { createProviderRegistry, type ProviderConfig } from "./llm/providers.js";
import { startSimulator } from "./llm/simulator.js";
import { Metrics } from "./metrics/metrics.js";
import { instrumentProviders } from "./metrics/providers.js";
import { startMetricsServer } from "./metrics/server.js";
import { startMaintenance } from "./queue/maintenance.js";
import { QueueInspector } from "./queue/queue-stats.js";
import { redisAnswers, resolveRedis } from "./queue/redis.js";
import { createTaskWorker, TaskQueue } from "./queue/task-queue.js";
import { WorkerRegistry } from "./queue/worker-registry.js";
import { TaskCanceller } from "./tasks/cancel.js";
import { ChainOperations } from "./tasks/chains.js";
import { TaskGraph } from "./tasks/graph.js";
import { TaskLifecycle } from "./tasks/lifecycle.js";
import { Operations } from "./tasks/operations.js";
import { RecoverySweep } from "./tasks/recovery.js";
import { RETENTION_EVERY_MS, Retention } from "./tasks/retention.js";
import { TaskRunner } from "./tasks/runner.js";
import { Templates } from "./templates/templates.js";
import { Tracing } from "./tracing/tracing.js";

/** A running Promptline process (api, worker or both) and how to stop it. */
export interface App {
  /** Base URL of the API and web UI; undefined for a worker-only process. */
  url: string | undefined;
  /** The separate /metrics port's base URL, when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  db: Kysely<DB>;
  /** Live watch streams this process serves (0 for a worker). */
  watchers(): number;
  /** What the process is using, for the start-up banner. */
  using: { database: string; redis: string; models: string };
  close(): Promise<void>;
}

/** The largest request message the API reads. */
export const MAX_REQUEST_BYTES = 40 * 1024 * 1024;

const defaultWebDist = fileURLToPath(new URL("../../web/dist", import.meta.url));

/**
 * Wires a process from its config: database (migrated), Redis, providers,
 * the lifecycle, then the API server and/or the worker, by role.
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closeOne of closers.reverse()) {
      await closeOne().catch((err: unknown) => log.warn({ err }, "error while shutting down"));
    }
  };
  try {
    const dataDir = path.dirname(path.resolve(config.pgliteDir));
    const db =
      config.databaseUrl === undefined
        ? await createPgliteDb(config.pgliteDir)
        : createPostgresDb(config.databaseUrl, {
            applicationName: `promptline-${config.role}`,
            onIdleConnectionError: (err) => log.warn({ err }, "idle database connection lost"),
          });
    closers.push(() => db.destroy());
    await migrateToLatest(db);
    // Counters live in this process: an api serves them on /metrics, a worker on METRICS_PORT.
    const metrics = new Metrics();
    // Off unless configured; then its hooks below are installed, and closed last to flush.
    const tracing = config.tracing === undefined ? undefined : new Tracing(config.tracing, log);
    if (tracing !== undefined) closers.push(() => tracing.close());

    const redis = await resolveRedis({ configured: config.redisUrl, dataDir, log });
    closers.push(() => redis.stop());

    const providerConfigs: ProviderConfig[] = [];
    if (config.nim !== undefined) {
      providerConfigs.push({
        name: "nim",
        baseUrl: config.nim.baseUrl,
        apiKey: config.nim.apiKey,
        simulated: false,
      });
    }
    if (config.simulator?.mode === "embedded") {
      const simulator = await startSimulator({ host: "127.0.0.1", port: 0 });
      closers.push(() => simulator.close());
      providerConfigs.push({ name: "simulator", baseUrl: simulator.url, simulated: true });
    } else if (config.simulator?.mode === "external") {
      providerConfigs.push({
        name: "simulator",
        baseUrl: config.simulator.baseUrl,
        simulated: true,
      });
    }
    const providers = createProviderRegistry({
      providers: providerConfigs.map((p) => ({ ...p, ...config.providerLimits[p.name] })),
    });

    const queue = new TaskQueue({
      redisUrl: redis.url,
      prefix: config.queuePrefix,
      traceparent: tracing === undefined ? undefined : () => tracing.traceparent(),
    });
    closers.push(() => queue.close());
    await queue.ready();

    // Live fan-out: published after commit on one Redis channel per deployment.
    const eventsRedis = new Redis(redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    eventsRedis.on("error", (err) => log.debug({ err }, "events connection error"));
    closers.push(async () => eventsRedis.disconnect());
    const notifier = new RedisTaskNotifier(eventsRedis, config.queuePrefix, log);

    const graph = new TaskGraph({ db, queue, notifier, log });
    const tasks = new TaskLifecycle({ db, queue, providers, notifier, graph, log });

    const recovery = new RecoverySweep({
      db,
      queue,
      notifier,
      graph,
      log,
      options: { intervalMs: config.recoveryIntervalMs, workerLockMs: config.workerLockMs },
    });
    recovery.start();
    closers.push(() => recovery.stop());

    const retention = new Retention({ db, log });

    if (config.role !== "worker") {
      if (config.authMode === "local") {
        log.warn(
          { authMode: "local", host: config.host },
          "AUTH_MODE=local: no authentication, every caller is the admin 'local'; allowed because HOST is loopback",
        );
      } else if ((await countActiveKeys(db)) === 0) {
        log.warn(
          "AUTH_MODE=keys and no API key exists yet: create one with `pnpm promptline keys create --admin`",
        );
      }
    }

    let server: ApiServer | undefined;
    let feed: TaskFeed | undefined;
    if (config.role !== "worker") {
      const apiFeed = new TaskFeed({ redisUrl: redis.url, prefix: config.queuePrefix, db, log });
      feed = apiFeed;
      closers.push(() => apiFeed.close());
      await apiFeed.start();
      const inspector = new QueueInspector({ redisUrl: redis.url, prefix: config.queuePrefix });
      closers.push(() => inspector.close());
      await inspector.ready();
      const ops = new Operations({ db, queue: inspector, retention });
      metrics.observeTasks(async () => {
        const stats = await ops.queueStats();
        return { counts: stats.counts, jobs: stats.jobs };
      });
      const admin = new AdminServiceHandler(ops);
      const canceller = new TaskCanceller(db, queue, notifier, graph);
      const handler = new TaskServiceHandler({
        tasks,
        providers,
        canceller,
        chains: new ChainOperations({ db, tasks, canceller, graph, notifier }),
        ops,
        watch: new WatchHandlers({
          tasks,
          feed: apiFeed,
          db,
          redis: eventsRedis,
          prefix: config.queuePrefix,
        }),
      });
      const templates = new TemplateServiceHandler({
        templates: new Templates({ db, tasks, providers }),
      });
      const ready: ReadinessCheck = async () => ({
        postgres: await check(() => sql`select 1`.execute(db)),
        redis: { ok: await redisAnswers(redis.url) },
      });
      const health = new HealthServiceHandler({
        ready,
        services: [
          TaskService.typeName,
          TemplateService.typeName,
          AdminService.typeName,
          AuthService.typeName,
          Health.typeName,
        ],
      });
      server = await startApiServer({
        host: config.host,
        port: config.port,
        webDist: config.webDist ?? defaultWebDist,
        rpcHandler: (fallback) =>
          connectNodeAdapter({
            routes: (router) =>
              router
                .service(TaskService, handler)
                .service(TemplateService, templates)
                .service(AdminService, admin)
                .service(AuthService, new AuthServiceHandler(config.authMode))
                .service(Health, health),
            // Outermost first: request id, tracing, metrics, error mapping, auth, request rules, deadlines.
            interceptors: [
              requestIdInterceptor(log),
              ...(tracing === undefined ? [] : [tracing.rpcInterceptor()]),
              observeInterceptor(metrics),
              errorInterceptor(log),
              authInterceptor({
                mode: config.authMode,
                authenticator: new Authenticator({ db, log }),
                db,
              }),
              validationInterceptor(),
              deadlineInterceptor({ maxUnaryMs: config.maxRequestTimeoutMs }),
            ],
            // Room for a full batch (100 tasks of 256 KiB prompts and 64 KiB
            // system prompts); more is ResourceExhausted before it is buffered.
            readMaxBytes: MAX_REQUEST_BYTES,
            fallback,
          }),
        ready,
        metrics: () => metrics.render(),
      });
      const api = server;
      closers.push(async () => {
        // Open watch streams end cleanly first, instead of holding the drain
        // until its deadline.
        await apiFeed.close();
        await api.close();
      });
      // Runs before the drain above (closers run in reverse): probes see
      // NOT_SERVING and health watches end.
      closers.push(async () => health.close());
    }

    if (config.role !== "api") {
      const workerId = `${hostname()}:${process.pid}:${uuidv7().slice(-8)}`;
      const runner = new TaskRunner({
        db,
        providers: instrumentProviders(
          tracing === undefined ? providers : tracing.traceProviders(providers),
          metrics,
        ),
        notifier,
        graph,
        log,
        options: { defaultTimeoutMs: config.taskTimeoutMs, backoff: config.retry },
      });
      const registry = new WorkerRegistry({
        redisUrl: redis.url,
        prefix: config.queuePrefix,
        id: workerId,
        concurrency: config.workerConcurrency,
        onError: (err) => log.warn({ err }, "worker heartbeat not written"),
      });
      // Deregistered after the worker has drained (closers run in reverse).
      closers.push(() => registry.stop());
      await registry.start();
      const worker = createTaskWorker({
        redisUrl: redis.url,
        prefix: config.queuePrefix,
        concurrency: config.workerConcurrency,
        lockDurationMs: config.workerLockMs,
        run: registry.track(async (taskId, signal, model, traceparent) => {
          const result =
            tracing === undefined
              ? await runner.run(taskId, workerId, signal, model)
              : await tracing.runTask(taskId, traceparent, () =>
                  runner.run(taskId, workerId, signal, model),
                );
          metrics.jobEnded(result.outcome);
          return result;
        }),
        onError: (err) => log.error({ err }, "worker error"),
      });
      // Closed first on shutdown (closers run in reverse), so nothing new starts.
      closers.push(() => worker.close(config.shutdownGraceMs));

      const retentionDays = config.retentionDays;
      const maintenance = await startMaintenance({
        redisUrl: redis.url,
        prefix: config.queuePrefix,
        retention:
          retentionDays === undefined
            ? undefined
            : { everyMs: RETENTION_EVERY_MS, run: () => retention.run(retentionDays) },
        onError: (err) => log.error({ err }, "maintenance job failed"),
      });
      closers.push(() => maintenance.close());
    }

    let metricsServer: { port: number } | undefined;
    if (config.metricsPort !== undefined) {
      const started = await startMetricsServer({
        host: config.host,
        port: config.metricsPort,
        metrics,
      });
      metricsServer = started;
      closers.push(() => started.close());
    }

    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    return {
      url: server === undefined ? undefined : `http://${host}:${server.port}`,
      metricsUrl: metricsServer === undefined ? undefined : `http://${host}:${metricsServer.port}`,
      db,
      watchers: () => feed?.watchers ?? 0,
      using: {
        database:
          config.databaseUrl === undefined
            ? `embedded PGlite in ${config.pgliteDir}`
            : "DATABASE_URL",
        redis: `${redis.source} (${redis.url})`,
        models: providerConfigs
          .map((p) => (p.simulated ? `${p.name} (simulated)` : p.name))
          .join(", "),
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await probe();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
