import { createConnectTransport } from "@connectrpc/connect-web";
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { bearerInterceptor } from "./auth/session";
import { createConnectionMonitor } from "./connection";
import { isRetryable } from "./errors";

/**
 * The one transport: Connect protocol with JSON, to the origin that served the
 * page (the Promptline server serves web/dist itself; `vite dev` proxies).
 */
export const transport = createConnectTransport({
  baseUrl: window.location.origin,
  useBinaryFormat: false,
  // The signed-in API key on every call (none in local mode).
  interceptors: [bearerInterceptor],
});

/** Whether the server answers; fed by every query and mutation below. */
export const connection = createConnectionMonitor();

/**
 * The app's QueryClient. Only errors that asking again can fix are retried
 * (twice, with TanStack's backoff), so a bad request or a missing task shows
 * at once; every settled call updates {@link connection}.
 */
export const queryClient = new QueryClient({
  queryCache: new QueryCache({
    onSuccess: () => connection.report(),
    onError: (err) => connection.report(err),
  }),
  mutationCache: new MutationCache({
    onSuccess: () => connection.report(),
    onError: (err) => connection.report(err),
  }),
  defaultOptions: {
    queries: {
      retry: (failureCount, err) => failureCount < 2 && isRetryable(err),
      staleTime: 1000,
    },
    mutations: { retry: false },
  },
});
