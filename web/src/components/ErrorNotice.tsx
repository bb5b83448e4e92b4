import { describeError } from "../errors";
import { Button } from "./Button";

/** Props for {@link ErrorNotice}. */
export interface ErrorNoticeProps {
  error: unknown;
  /** What was being done, e.g. "Couldn't load tasks". */
  context: string;
  /** Offer a "Try again" button that calls this. */
  onRetry?: () => void;
}

/** A failed call in plain words, with the server's detail and Connect code in small print. */
export function ErrorNotice({ error, context, onRetry }: ErrorNoticeProps) {
  const { title, hint, detail, code } = describeError(error);
  return (
    <div
      role="alert"
      className="flex flex-col gap-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm text-red-900 sm:flex-row sm:items-start sm:justify-between dark:border-red-900 dark:bg-red-950/50 dark:text-red-200"
    >
      <div className="space-y-1">
        <p className="font-semibold">{context}</p>
        <p>{title}</p>
        {hint !== undefined && <p>{hint}</p>}
        {detail !== undefined && <p className="break-words opacity-80">{detail}</p>}
        <p className="font-mono text-xs opacity-70">{code}</p>
      </div>
      {onRetry !== undefined && (
        <Button size="sm" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  );
}
