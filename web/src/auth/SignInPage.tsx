import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthMode, AuthService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState, useSyncExternalStore } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { transport } from "../api";
import { Button, buttonClass } from "../components/Button";
import { Field, inputClass } from "../components/Field";
import { session } from "./session";
import { useWhoAmI } from "./useWhoAmI";

/** Only paths of this app: `next` must not send the person elsewhere. */
function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/**
 * Sign in with an API key: checked with WhoAmI before it is kept (in this
 * browser's localStorage) and sent on every call.
 */
export function SignInPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const state = useSyncExternalStore(session.subscribe, session.getSnapshot);
  const who = useWhoAmI();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const candidate = key.trim();
    if (candidate === "") {
      setError("Paste an API key (it starts with pl_).");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const answer = await createClient(AuthService, transport).whoAmI(
        {},
        { headers: { authorization: `Bearer ${candidate}` } },
      );
      if (answer.authMode === AuthMode.KEYS) session.signIn(candidate);
      queryClient.clear();
      await navigate(next, { replace: true });
    } catch (err) {
      const connectError = ConnectError.from(err);
      setError(
        connectError.code === Code.Unauthenticated
          ? `That key was refused: ${connectError.rawMessage}`
          : `Could not check the key: ${connectError.rawMessage}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="mx-auto max-w-md py-12">
      <title>Sign in · Promptline</title>
      <h1 className="text-2xl font-semibold tracking-tight">Sign in to Promptline</h1>
      {who.localMode ? (
        <div className="mt-4 space-y-4 text-sm">
          <p>This server runs in local mode: there is nothing to sign in to.</p>
          <Link to={next} className={buttonClass("primary")}>
            Continue
          </Link>
        </div>
      ) : (
        <form className="mt-6 space-y-4" onSubmit={(e) => void submit(e)} noValidate>
          {state.refusal !== undefined && error === undefined ? (
            <p role="alert" className="text-sm text-red-700 dark:text-red-400">
              You were signed out: {state.refusal}
            </p>
          ) : null}
          <Field
            id="api-key"
            label="API key"
            hint="An administrator creates one with: pnpm promptline keys create --user <you>"
            error={error}
          >
            {(aria) => (
              <input
                {...aria}
                type="password"
                autoComplete="off"
                spellCheck={false}
                className={inputClass}
                value={key}
                onChange={(e) => setKey(e.target.value)}
                placeholder="pl_…"
              />
            )}
          </Field>
          <Button type="submit" variant="primary" disabled={busy}>
            {busy ? "Checking…" : "Sign in"}
          </Button>
          <p className="text-xs text-fg-muted">
            The key is kept in this browser only, until you sign out.
          </p>
        </form>
      )}
    </div>
  );
}
