import { Code, ConnectError } from "@connectrpc/connect";
import { type ReactNode, useSyncExternalStore } from "react";
import { Navigate, useLocation } from "react-router";
import { session } from "./session";
import { useWhoAmI } from "./useWhoAmI";

/**
 * Lets its pages render once the server knows this browser (a good key,
 * or local mode); otherwise, and as soon as any call is refused as
 * Unauthenticated, it goes to the sign-in page, which brings the person
 * back here after.
 */
export function AuthGate({ children }: { children: ReactNode }) {
  const state = useSyncExternalStore(session.subscribe, session.getSnapshot);
  const who = useWhoAmI();
  const location = useLocation();
  const unauthenticated =
    state.refusal !== undefined ||
    (who.error instanceof ConnectError && who.error.code === Code.Unauthenticated);
  if (unauthenticated) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  // Unreachable or another error: the pages show it (and the connection banner).
  return children;
}
