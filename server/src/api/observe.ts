import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Metrics, RpcSample } from "../metrics/metrics.js";
import { kLog } from "./context.js";

const TYPES: Record<string, RpcSample["type"]> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/**
 * Times every RPC into `promptline_rpc_duration_seconds` by method and gRPC
 * code, and writes a debug line for it with the request's logger. A stream
 * is measured until its last message (or its error); one the caller
 * abandons counts as CANCELLED. Sits outside the error mapping, so it sees
 * the code the client gets.
 */
export function observeInterceptor(metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const method = `${req.service.typeName}/${req.method.name}`;
    const end = (code: string) => {
      const durationMs = performance.now() - started;
      metrics.rpcEnded({ method, type: TYPES[req.method.methodKind] ?? "unary", code, durationMs });
      req.contextValues.get(kLog).debug({ code, durationMs: Math.round(durationMs) }, "rpc ended");
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        end("OK");
        return res;
      }
      return { ...res, message: observeStream(res.message, end) };
    } catch (error) {
      end(grpcCodeName(error));
      throw error;
    }
  };
}

async function* observeStream<T>(messages: AsyncIterable<T>, end: (code: string) => void) {
  let code = "CANCELLED";
  try {
    yield* messages;
    code = "OK";
  } catch (error) {
    code = grpcCodeName(error);
    throw error;
  } finally {
    end(code);
  }
}

/** `NOT_FOUND`, `DEADLINE_EXCEEDED`, …: the names gRPC's own metrics use. */
export function grpcCodeName(error: unknown): string {
  const code = ConnectError.from(error).code;
  if (code === Code.Canceled) return "CANCELLED";
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
