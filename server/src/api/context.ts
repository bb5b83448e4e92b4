import { createContextKey } from "@connectrpc/connect";

/** The request's x-request-id, set by the request-id interceptor before any handler runs. */
export const kRequestId = createContextKey<string>("", { description: "x-request-id" });
