import { TaskService } from "@promptline/proto";
import { grpcJsClient, grpcUnary } from "../../../server/test/grpc-js-client.js";
import type { FigureSpec } from "../figures.js";
import { openLoop } from "../load.js";
import { waitForCompleted } from "../observe.js";
import { BENCH_MODEL, connectClient, promptlineEnv } from "../promptline.js";
import { summarize } from "../stats.js";
import { checkAllCompleted, repeat, type Scenario } from "./scenario.js";

type Protocol = "connect" | "grpc";

/** Scenario 2: CreateTask latency at a fixed offered rate, over Connect and over gRPC. */
export const createLatency: Scenario = {
  id: "create-latency",
  title: "2. CreateTask latency",
  async run(ctx) {
    const { ratePerS, durationS, warmupS } = ctx.settings.createLatency;
    const specs: FigureSpec[] = [];
    for (const protocol of ["connect", "grpc"] as const) {
      const name = protocol === "connect" ? "Connect (HTTP/1.1)" : "gRPC (@grpc/grpc-js, HTTP/2)";
      specs.push(
        {
          id: `${protocol}_p50`,
          label: `${name} p50`,
          unit: "ms",
          better: "lower",
          role: "promptline",
        },
        {
          id: `${protocol}_p99`,
          label: `${name} p99`,
          unit: "ms",
          better: "lower",
          role: "promptline",
          targets: [{ kind: "absolute", op: "<", value: 10 }],
        },
        {
          id: `${protocol}_failed`,
          label: `${name} calls failed`,
          unit: "calls",
          better: "lower",
          role: "promptline",
          targets: [{ kind: "absolute", op: "<=", value: 0 }],
        },
      );
    }
    const samples = await repeat(ctx, "create-latency", async (scope, repetition) => {
      const env = await promptlineEnv(ctx, scope);
      // Separate processes, as deployed: in one `all` process the API's event
      // loop would also run every task it creates, and the figure would be the
      // worker's backlog rather than CreateTask's latency.
      const app = await env.start("api");
      await env.start("worker");
      if (app.url === undefined) throw new Error("the api process has no URL");
      const connect = connectClient(app.url);
      const grpc = scope.add(grpcJsClient(app.url), async (c) => c.close());
      const calls: Record<Protocol, (i: number) => Promise<void>> = {
        connect: async (i) => {
          await connect.createTask({ prompt: `latency ${i}`, model: BENCH_MODEL });
        },
        grpc: async (i) => {
          await grpcUnary(grpc, TaskService.method.createTask, {
            prompt: `latency ${i}`,
            model: BENCH_MODEL,
          });
        },
      };
      const values: Record<string, number> = {};
      const detail: Record<string, unknown> = {};
      // Alternating which protocol goes first keeps order effects out of the comparison.
      const order: Protocol[] = repetition % 2 === 0 ? ["connect", "grpc"] : ["grpc", "connect"];
      let acknowledged = 0;
      for (const protocol of order) {
        ctx.log(`  ${protocol}`);
        const warmup = await openLoop({ ratePerS, durationS: warmupS, call: calls[protocol] });
        const result = await openLoop({ ratePerS, durationS, call: calls[protocol] });
        acknowledged += warmup.sent - warmup.errors + result.sent - result.errors;
        if (result.latenciesMs.length === 0) {
          throw new Error(`${protocol}: every call failed: ${result.firstError}`);
        }
        const summary = summarize(result.latenciesMs);
        values[`${protocol}_p50`] = summary.p50;
        values[`${protocol}_p99`] = summary.p99;
        // A failed call is a finding, not a reason to throw the run away.
        values[`${protocol}_failed`] = result.errors;
        detail[protocol] = {
          ...summary,
          sent: result.sent,
          errors: result.errors,
          firstError: result.firstError ?? warmup.firstError,
          warmupErrors: warmup.errors,
          maxSendLagMs: result.maxSendLagMs,
          achievedRatePerS: result.achievedRatePerS,
        };
      }
      // A call that failed on the wire may still have stored its task, so the
      // check is: every task stored completed, and none acknowledged is missing.
      const counts = await waitForCompleted(env.database.pool, acknowledged, {
        timeoutMs: 300_000,
      });
      checkAllCompleted("create-latency", counts.total, counts.completed);
      detail.acknowledged = acknowledged;
      detail.created = counts.total;
      detail.completed = counts.completed;
      return { values, detail };
    });
    return {
      method: [
        `Open loop: CreateTask is sent ${ratePerS} times a second for ${durationS} s whatever the responses do (a closed loop would slow down with the server and hide queueing); latency is from send to response, at the client. ${warmupS} s at the same rate before each measurement are not counted.`,
        `An api process and a worker process (WORKER_CONCURRENCY=${ctx.settings.workerConcurrency}), so the created tasks run meanwhile against the zero-latency simulator, as they would in production, without the API's event loop running them. Connect over HTTP/1.1 (keep-alive) and gRPC through a plain @grpc/grpc-js client over HTTP/2 cleartext, one after the other, alternating which goes first.`,
        "Failed calls are counted (target: none) and left out of the latencies; each run checks that every task stored completed and that none acknowledged is missing, and records whether the offered rate was held (the send lag is in the JSON).",
      ],
      specs,
      samples,
    };
  },
};
