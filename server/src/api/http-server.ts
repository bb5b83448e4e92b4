import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

/** A request listener for both the HTTP/1.1 and the HTTP/2 server, as Connect's adapter makes. */
export type NodeHandlerFn = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
type NodeServerRequest = Parameters<NodeHandlerFn>[0];
type NodeServerResponse = Parameters<NodeHandlerFn>[1];

/** What /readyz reports: each dependency's check, ready only if all pass. */
export type ReadinessCheck = () => Promise<Record<string, { ok: boolean; error?: string }>>;

export interface ApiServerOptions {
  /** The Connect adapter's handler; it answers RPC paths and calls `fallback` for the rest. */
  rpcHandler: (fallback: NodeHandlerFn) => NodeHandlerFn;
  /** The built web UI; undefined serves no UI. */
  webDist: string | undefined;
  ready: ReadinessCheck;
  /** Prometheus exposition for GET /metrics; undefined serves none. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

export interface ApiServer {
  readonly port: number;
  /** Stops accepting, lets in-flight requests end for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

export const HEALTH_PATH = "/healthz";
export const READY_PATH = "/readyz";
export const METRICS_PATH = "/metrics";

/** How long after the advertised keep-alive timeout the server itself closes an idle socket. */
const KEEP_ALIVE_TIMEOUT_BUFFER_MS = 30_000;

// The client connection preface of HTTP/2 starts with "PRI"; no HTTP/1 method does.
const H2_PREFACE_START = "PRI";

/**
 * One port for gRPC (HTTP/2 cleartext), gRPC-web and Connect (HTTP/1.1 or h2c).
 * Node's cleartext HTTP/2 server has no HTTP/1.1 fallback, so each new
 * connection's first bytes decide which server gets it.
 */
export async function startApiServer(
  options: ApiServerOptions & { host: string; port: number },
): Promise<ApiServer> {
  const handler = withSpecGrpcMessage(options.rpcHandler(httpRoutes(options)));
  const h1 = http.createServer(handler);
  // A client drops an idle keep-alive socket a second before the advertised
  // timeout (5 s); Node's server closes its end 1 s after it. Under load one
  // turn of the event loop can outlast that 2 s margin: the idle timer then
  // fires before a request that arrived in time is read, the socket closes
  // with the request unread, and the client gets ECONNRESET. Clients still
  // close first, now with half a minute to spare.
  h1.keepAliveTimeoutBuffer = KEEP_ALIVE_TIMEOUT_BUFFER_MS;
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  // HTTP/1 requests in flight per socket. The h1 server never listens itself
  // (sockets are handed to it), so its closeIdleConnections() knows none of
  // them; closing keep-alive connections is done here.
  const inFlight = new Map<net.Socket, number>();
  let closing = false;
  const http2Sockets = new WeakSet<net.Socket>();
  const isHttp2 = (socket: net.Socket) => http2Sockets.has(socket);
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (closing) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  const server = net.createServer((socket) => {
    // http.createServer would set this itself; sockets handed to it do not
    // get it. Without it small streamed messages wait for a delayed ACK (~40 ms).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      inFlight.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    socket.once("readable", function dispatch() {
      const head: Buffer | null = socket.read(H2_PREFACE_START.length);
      if (head === null) {
        socket.once("readable", dispatch);
        return;
      }
      socket.unshift(head);
      const target = head.toString("latin1") === H2_PREFACE_START ? h2 : h1;
      if (target === h2) http2Sockets.add(socket);
      target.emit("connection", socket);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;

  return {
    port,
    async close(graceMs = 5_000) {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const socket of sockets) {
        // An HTTP/1 connection with nothing in flight closes now; one that is
        // busy closes when its last response is out (see the request hook).
        if (!isHttp2(socket) && (inFlight.get(socket) ?? 0) === 0) socket.destroy();
      }
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await stopped;
      clearTimeout(deadline);
    },
  };
}

/**
 * gRPC percent-encodes grpc-message only outside printable ASCII and for '%'.
 * Connect-ES encodes with encodeURIComponent, and @grpc/grpc-js decodes with
 * decodeURI, which leaves "%3A" in "prompt%3A must not be empty". Re-encoding
 * to the spec's form makes every client read the message as sent.
 */
function withSpecGrpcMessage(handler: NodeHandlerFn): NodeHandlerFn {
  return (req, res) => {
    const contentType = req.headers["content-type"] ?? "";
    if (req.httpVersionMajor === 2 && /^application\/grpc(?!-web)/.test(contentType)) {
      const addTrailers = res.addTrailers.bind(res);
      res.addTrailers = (trailers: Record<string, string | string[] | undefined>) => {
        const message = trailers["grpc-message"];
        if (typeof message === "string") {
          addTrailers({ ...trailers, "grpc-message": grpcPercentEncode(message) });
        } else {
          addTrailers(trailers);
        }
      };
    }
    handler(req, res);
  };
}

const utf8Encoder = new TextEncoder();

/** Exported for tests: Connect's encoding in, the gRPC spec's encoding out. */
export function grpcPercentEncode(connectEncoded: string): string {
  let text: string;
  try {
    text = decodeURIComponent(connectEncoded);
  } catch {
    return connectEncoded;
  }
  let out = "";
  for (const byte of utf8Encoder.encode(text)) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** Non-RPC paths: health, readiness, metrics, and the web UI with a fallback to index.html. */
function httpRoutes(options: ApiServerOptions): NodeHandlerFn {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === HEALTH_PATH) {
      send(res, 200, "application/json", JSON.stringify({ status: "ok" }));
      return;
    }
    if (url.pathname === READY_PATH) {
      options.ready().then(
        (checks) => {
          const ok = Object.values(checks).every((c) => c.ok);
          send(res, ok ? 200 : 503, "application/json", JSON.stringify({ ready: ok, checks }));
        },
        (error: unknown) =>
          send(
            res,
            503,
            "application/json",
            JSON.stringify({ ready: false, error: String(error) }),
          ),
      );
      return;
    }
    const metrics = options.metrics;
    if (url.pathname === METRICS_PATH && metrics !== undefined) {
      metrics().then(
        ({ contentType, body }) => send(res, 200, contentType, body),
        () => send(res, 500, "text/plain", "metrics unavailable"),
      );
      return;
    }
    if (options.webDist !== undefined && (req.method === "GET" || req.method === "HEAD")) {
      serveStatic(options.webDist, url.pathname, req, res).catch(() =>
        send(res, 500, "text/plain", "error"),
      );
      return;
    }
    send(res, 404, "text/plain", "not found");
  };
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

async function serveStatic(
  root: string,
  pathname: string,
  req: NodeServerRequest,
  res: NodeServerResponse,
): Promise<void> {
  const resolvedRoot = path.resolve(root);
  const decoded = decodeURIComponent(pathname);
  let file = path.resolve(resolvedRoot, `.${decoded}`);
  if (!file.startsWith(resolvedRoot + path.sep) && file !== resolvedRoot) {
    send(res, 404, "text/plain", "not found");
    return;
  }
  let info = await stat(file).catch(() => undefined);
  if (info === undefined || info.isDirectory()) {
    // Client-side routes (/tasks/…) get the app; a missing asset stays a 404.
    if (path.extname(decoded) !== "") {
      send(res, 404, "text/plain", "not found");
      return;
    }
    file = path.join(resolvedRoot, "index.html");
    info = await stat(file).catch(() => undefined);
    if (info === undefined) {
      send(res, 404, "text/plain", "web UI not built: run `pnpm --filter @promptline/web build`");
      return;
    }
  }
  const immutable = decoded.startsWith("/assets/");
  res.writeHead(200, {
    "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
    "content-length": info.size,
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  createReadStream(file).pipe(res as NodeJS.WritableStream);
}

function send(res: NodeServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}
