import { createContextKey } from "@connectrpc/connect";
import { type Logger, pino } from "pino";

/** The request's x-request-id, set by the request-id interceptor before any handler runs. */
export const kRequestId = createContextKey<string>("", { description: "x-request-id" });

/**
 * The request's logger: the process logger with the request id and method
 * bound, so every line about one request can be found by its id. Set by the
 * request-id interceptor; the default writes nothing.
 */
export const kLog = createContextKey<Logger>(pino({ enabled: false }), {
  description: "request logger",
});
