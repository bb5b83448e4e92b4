import { useRouteError } from "react-router";
import { Button } from "../components/Button";
import { isChunkLoadError } from "../errors";

/**
 * Shown instead of a page that threw while rendering, so a bug in one page
 * leaves a way out rather than a blank screen.
 */
export function CrashPage() {
  const error = useRouteError();
  if (isChunkLoadError(error)) return <NotLoaded />;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div role="alert" className="mx-auto max-w-lg py-12 text-center">
      <title>Something broke · Promptline</title>
      <h1 className="text-2xl font-semibold tracking-tight">Something broke on this page</h1>
      <p className="mt-2 text-sm text-fg-muted">
        This is a bug in Promptline's web app. Reloading usually helps; if it keeps happening,
        report the message below.
      </p>
      <pre className="mt-4 overflow-auto rounded-lg bg-sunken p-3 text-left font-mono text-xs whitespace-pre-wrap">
        {message}
      </pre>
      <a href="/" className="mt-6 inline-block text-sm font-medium text-accent-text underline">
        Back to all tasks
      </a>
    </div>
  );
}

/** A page whose code could not be fetched: not a bug, and a reload is the cure. */
function NotLoaded() {
  return (
    <div role="alert" className="mx-auto max-w-lg py-12 text-center">
      <title>Page not loaded · Promptline</title>
      <h1 className="text-2xl font-semibold tracking-tight">This page couldn't be loaded</h1>
      <p className="mt-2 text-sm text-fg-muted">
        The Promptline server didn't send this page's code: it may be unreachable, or a new version
        was just deployed. Reload once the server is back.
      </p>
      <Button variant="primary" className="mt-6" onClick={() => window.location.reload()}>
        Reload
      </Button>
    </div>
  );
}
