import { UserRole } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { Button } from "../components/Button";
import { session } from "./session";
import { useWhoAmI } from "./useWhoAmI";

/** In the header: who is signed in, with Sign out; or "Local mode" when the server has no sign-in. */
export function AccountStatus() {
  const who = useWhoAmI();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const user = who.data?.user;
  if (user === undefined) return null;
  if (who.localMode) {
    return (
      <span
        className="rounded-full border border-amber-300 bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
        title="The server runs with AUTH_MODE=local: no sign-in"
      >
        Local mode
      </span>
    );
  }
  const signOut = () => {
    session.signOut();
    // Nothing read with the old key stays on screen.
    queryClient.clear();
    void navigate("/sign-in");
  };
  return (
    <span className="flex items-center gap-2 text-sm" data-testid="account">
      <span className="text-fg-muted">
        <span className="font-medium text-fg">{user.name}</span>
        {user.role === UserRole.ADMIN ? " (admin)" : ""}
      </span>
      <Button size="sm" variant="ghost" onClick={signOut}>
        Sign out
      </Button>
    </span>
  );
}

/** A plain warning under the header while the server runs without authentication. */
export function LocalModeNotice() {
  const who = useWhoAmI();
  if (!who.localMode) return null;
  return (
    <div
      role="status"
      data-testid="local-mode-notice"
      className="border-b border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
    >
      <p className="mx-auto max-w-6xl px-4 py-2 text-sm sm:px-6">
        <strong className="font-semibold">Local mode: no sign-in.</strong> Anyone who can reach this
        server acts as its admin. It only listens on this machine; set <code>AUTH_MODE=keys</code>{" "}
        to require API keys.
      </p>
    </div>
  );
}
