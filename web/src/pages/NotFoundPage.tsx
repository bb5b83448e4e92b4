import { Link } from "react-router";
import { buttonClass } from "../components/Button";

/** Any path the app doesn't know. */
export function NotFoundPage() {
  return (
    <div className="mx-auto max-w-lg py-12 text-center">
      <title>Page not found · Promptline</title>
      <h1 className="text-2xl font-semibold tracking-tight">Page not found</h1>
      <p className="mt-2 text-sm text-fg-muted">There is nothing at this address.</p>
      <Link to="/" className={`${buttonClass("secondary")} mt-6`}>
        Back to all tasks
      </Link>
    </div>
  );
}
