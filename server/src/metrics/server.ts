import http from "node:http";
import { METRICS_PATH } from "../api/http-server.js";
import type { Metrics } from "./metrics.js";

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A port that serves only `/metrics`, for a process without the API (a
 * worker), whose counters live in its own memory and nowhere else.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  metrics: Metrics;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== METRICS_PATH || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    options.metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
