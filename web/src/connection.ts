import { isUnreachable } from "./errors";

/** Whether the last call that settled reached the server. */
export type Reachability = "reachable" | "unreachable";

/**
 * Tracks whether the Promptline server answers, from the outcomes of real
 * calls: any failure that means "no answer" flips it to unreachable, any
 * answer (success or a server-side "no") flips it back. The banner reads it
 * with `useSyncExternalStore`.
 */
export interface ConnectionMonitor {
  /** Report a call's outcome: the thrown error, or undefined for success. */
  report(err?: unknown): void;
  subscribe(listener: () => void): () => void;
  getSnapshot(): Reachability;
}

/** Makes a {@link ConnectionMonitor} that starts out optimistic. */
export function createConnectionMonitor(): ConnectionMonitor {
  let state: Reachability = "reachable";
  const listeners = new Set<() => void>();
  return {
    report(err) {
      const next: Reachability =
        err !== undefined && isUnreachable(err) ? "unreachable" : "reachable";
      if (next === state) return;
      state = next;
      for (const listener of listeners) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: () => state,
  };
}
