import { AsyncLocalStorage } from "node:async_hooks";

const current = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `work` with `signal` as the abort signal of every PostgreSQL query it
 * makes, however deep in the call stack: when the signal fires, a query in
 * flight is cancelled on the server and its connection freed (see
 * `createPostgresDb`). The API gives each call its deadline this way, so
 * query functions need no signal parameter.
 */
export function withQuerySignal<T>(signal: AbortSignal, work: () => T): T {
  return current.run(signal, work);
}

/** The signal of the work the caller runs for, if any (see {@link withQuerySignal}). */
export function querySignal(): AbortSignal | undefined {
  return current.getStore();
}
