import { useEffect, useSyncExternalStore } from "react";
import { connection, queryClient } from "../api";
import { Button } from "./Button";

const RECHECK_MS = 5000;

/**
 * Asks the server's readiness check (PostgreSQL and Redis answer too) and,
 * only once it passes, the queries on screen. Refetching a query that never
 * loaded puts it back to loading, so doing that blindly every few seconds
 * would swap a page's error notice for a skeleton and back throughout an
 * outage.
 */
async function recheck(): Promise<void> {
  try {
    const res = await fetch("/readyz", { cache: "no-store" });
    if (!res.ok) return;
  } catch {
    // Still unreachable; the next recheck tries again.
    return;
  }
  connection.report();
  await queryClient.refetchQueries({ type: "active" });
}

/**
 * Says plainly when the server can't be reached, and keeps rechecking every
 * 5 s; it disappears by itself as soon as a call gets an answer.
 */
export function ConnectionBanner() {
  const state = useSyncExternalStore(connection.subscribe, connection.getSnapshot);

  useEffect(() => {
    if (state !== "unreachable") return;
    const timer = setInterval(() => void recheck(), RECHECK_MS);
    return () => clearInterval(timer);
  }, [state]);

  if (state !== "unreachable") return null;
  return (
    <div
      role="alert"
      className="border-b border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
    >
      <div className="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-2 px-4 py-2 text-sm sm:px-6">
        <p>
          <strong className="font-semibold">Can't reach the Promptline server.</strong> Showing what
          was last loaded; retrying every few seconds.
        </p>
        <Button size="sm" variant="secondary" onClick={() => void recheck()}>
          Retry now
        </Button>
      </div>
    </div>
  );
}
