import { Code, ConnectError } from "@connectrpc/connect";

/**
 * True when the error means the server could not be reached at all (as opposed
 * to the server answering "no"): Connect's Unavailable (HTTP 502/503/504 from a
 * proxy, or the server saying its database/Redis is down), or fetch failing
 * before any response, which connect-web reports as Unknown caused by a TypeError.
 */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return err instanceof TypeError;
  if (err.code === Code.Unavailable) return true;
  return err.code === Code.Unknown && err.cause instanceof TypeError;
}

/**
 * True when asking again may help; TanStack Query retries only these, so an
 * InvalidArgument or NotFound shows at once instead of after three retries.
 */
export function isRetryable(err: unknown): boolean {
  if (isUnreachable(err)) return true;
  if (!(err instanceof ConnectError)) return false;
  return (
    err.code === Code.DeadlineExceeded ||
    err.code === Code.ResourceExhausted ||
    err.code === Code.Aborted ||
    err.code === Code.Internal
  );
}

/** What to tell a person about a failed call. */
export interface ErrorDescription {
  /** One sentence in plain words: what happened and, where it helps, what to do. */
  title: string;
  /** What the person can do about it, when there is something. */
  hint: string | undefined;
  /** The server's own message, when it adds something to the title. */
  detail: string | undefined;
  /** The Connect code name, e.g. "not_found", for people who report bugs. */
  code: string;
}

const titles: Record<Code, string> = {
  [Code.Canceled]: "The request was cancelled before it finished.",
  [Code.Unknown]: "Something went wrong talking to the Promptline server.",
  [Code.InvalidArgument]: "The server did not accept that input.",
  [Code.DeadlineExceeded]: "The server took too long to answer. Try again.",
  [Code.NotFound]: "That was not found. It may have been deleted.",
  [Code.AlreadyExists]: "That already exists.",
  [Code.PermissionDenied]: "You are not allowed to do that.",
  [Code.ResourceExhausted]: "Too many requests right now. Wait a moment and try again.",
  [Code.FailedPrecondition]: "That can't be done in the current state.",
  [Code.Aborted]: "The request clashed with another change. Try again.",
  [Code.OutOfRange]: "That value is out of range.",
  [Code.Unimplemented]:
    "The server does not support this request. It may be an older Promptline version.",
  [Code.Internal]: "The server hit an internal error. Try again, and report it if it persists.",
  [Code.Unavailable]: "The Promptline server can't be reached right now.",
  [Code.DataLoss]: "The server reported lost or corrupted data.",
  [Code.Unauthenticated]: "You need to sign in to do that.",
};

const hints: Partial<Record<Code, string>> = {
  [Code.Canceled]: "Nothing more will happen with it; do it again if you still need it.",
  [Code.Unknown]: "Check your network connection, then try again.",
  [Code.InvalidArgument]: "Correct the value the message names, then try again.",
  [Code.DeadlineExceeded]: "If it keeps happening, the server may be overloaded.",
  [Code.NotFound]: "Go back to the task list to find what you were looking for.",
  [Code.AlreadyExists]:
    "An idempotency key or name can only be used once: pick another, or open the existing one.",
  [Code.PermissionDenied]: "Ask an admin for access, or sign in with another key.",
  [Code.FailedPrecondition]:
    "Reload to see its current state; a finished task, for example, can't be cancelled.",
  [Code.OutOfRange]: "Pick a smaller value or an earlier page.",
  [Code.Unimplemented]: "Reload the page; if that doesn't help, the server needs an update.",
  [Code.Internal]: "The server's log has the details under this request's id.",
  [Code.Unavailable]: "What was last loaded stays on screen; the page retries by itself.",
  [Code.DataLoss]: "Report this to whoever runs this Promptline server.",
  [Code.Unauthenticated]: "Sign in again, then retry.",
};

/** Turns any thrown value into words for a person; never shows a stack trace. */
export function describeError(err: unknown): ErrorDescription {
  const ce = ConnectError.from(err);
  if (isUnreachable(ce)) {
    return {
      title: titles[Code.Unavailable],
      hint: hints[Code.Unavailable],
      detail: ce.code === Code.Unavailable ? serverDetail(ce) : undefined,
      code: codeName(Code.Unavailable),
    };
  }
  return {
    title: titles[ce.code] ?? titles[Code.Unknown],
    hint: hints[ce.code],
    detail: serverDetail(ce),
    code: codeName(ce.code),
  };
}

// Messages connect-web makes up from a bare HTTP status add nothing for a person.
function serverDetail(err: ConnectError): string | undefined {
  const msg = err.rawMessage.trim();
  if (msg === "" || /^HTTP \d{3}$/.test(msg)) return undefined;
  return msg;
}

/** The snake_case name of a Connect code, as on the wire: "invalid_argument". */
export function codeName(code: Code): string {
  const name = Code[code] ?? "Unknown";
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Field errors parsed out of an InvalidArgument, keyed by form field. */
export interface FieldErrors<F extends string> {
  /** Reasons for fields the form has, e.g. `{ prompt: "must not be empty" }`. */
  fields: Partial<Record<F, string>>;
  /** Anything that names no known field, to show above the form. */
  other: string[];
}

/** One "path: reason" part of an InvalidArgument message; `path` is undefined when none was named. */
export interface FieldErrorPart {
  path: string | undefined;
  reason: string;
}

/**
 * Splits an InvalidArgument message like `prompt: must not be empty` (several
 * may be joined by "; " or newlines) into its parts, paths as the server
 * wrote them (`depends_on[0].task_id`). Any other error yields nothing.
 */
export function fieldErrorParts(err: unknown): FieldErrorPart[] {
  if (!(err instanceof ConnectError) || err.code !== Code.InvalidArgument) return [];
  return err.rawMessage
    .split(/;\s+(?=[A-Za-z_][\w.[\]]*\s*:)|\n/)
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((part) => {
      const match = /^([A-Za-z_][\w.[\]]*)\s*:\s*(.+)$/s.exec(part);
      return match?.[1] !== undefined && match[2] !== undefined
        ? { path: match[1], reason: match[2] }
        : { path: undefined, reason: part };
    });
}

/**
 * Splits an InvalidArgument message into per-field reasons (see
 * {@link fieldErrorParts}). Field paths are matched loosely by
 * {@link fieldForPath}. Errors with any other code yield nothing; the caller
 * shows those with {@link describeError}.
 */
export function parseFieldErrors<F extends string>(
  err: unknown,
  knownFields: readonly F[],
): FieldErrors<F> {
  const result: FieldErrors<F> = { fields: {}, other: [] };
  for (const { path, reason } of fieldErrorParts(err)) {
    const field = path === undefined ? undefined : fieldForPath(path, knownFields);
    if (field === undefined) {
      result.other.push(path === undefined ? reason : `${path}: ${reason}`);
      continue;
    }
    const previous = result.fields[field];
    result.fields[field] = previous === undefined ? reason : `${previous}; ${reason}`;
  }
  return result;
}

/**
 * What a form shows above its buttons after the server refused it: the
 * reasons that name no control, as one InvalidArgument; else nothing when a
 * reason already shows beside a control; else the error itself (a refusal
 * that is not about a field, or the server not answering).
 */
export function formLevelError(err: unknown, other: string[], shownAtControl: boolean): unknown {
  if (other.length > 0) return new ConnectError(other.join("; "), Code.InvalidArgument);
  return shownAtControl ? undefined : err;
}

/**
 * The form field a server path names, matched loosely: `params.max_tokens`,
 * `maxTokens` and `params.stop[1]` all reach the field called `max_tokens` /
 * `stop`; undefined when no known field fits.
 */
export function fieldForPath<F extends string>(
  path: string,
  knownFields: readonly F[],
): F | undefined {
  const snake = path
    .replace(/\[\d*\]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase();
  const candidates = [snake, snake.split(".").at(-1) ?? snake];
  for (const candidate of candidates) {
    const found = knownFields.find((f) => f === candidate);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * True for a page's code failing to load (a lazy route's chunk or its CSS):
 * the server was unreachable, or a new version was deployed and the old file
 * is gone. Browsers word it differently (Chromium "Failed to fetch
 * dynamically imported module", Firefox "error loading dynamically imported
 * module", Safari "Importing a module script failed"), and Vite's preloader
 * fails first when the chunk has CSS ("Unable to preload CSS for …").
 */
export function isChunkLoadError(err: unknown): boolean {
  return (
    err instanceof Error &&
    /dynamically imported module|importing a module script failed|unable to preload css/i.test(
      err.message,
    )
  );
}
