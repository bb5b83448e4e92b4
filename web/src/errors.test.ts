import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  codeName,
  describeError,
  formLevelError,
  isChunkLoadError,
  isRetryable,
  isUnreachable,
  parseFieldErrors,
} from "./errors";

const FIELDS = ["name", "prompt", "system_prompt", "max_tokens", "stop", "temperature"] as const;

describe("isUnreachable", () => {
  it("recognises Unavailable and fetch failures", () => {
    expect(isUnreachable(new ConnectError("HTTP 502", Code.Unavailable))).toBe(true);
    const fetchFailed = ConnectError.from(new TypeError("Failed to fetch"));
    expect(fetchFailed.code).toBe(Code.Unknown);
    expect(isUnreachable(fetchFailed)).toBe(true);
    expect(isUnreachable(new TypeError("NetworkError"))).toBe(true);
  });

  it("does not mistake a server's answer for an outage", () => {
    expect(isUnreachable(new ConnectError("no such task", Code.NotFound))).toBe(false);
    expect(isUnreachable(new ConnectError("boom", Code.Unknown))).toBe(false);
    expect(isUnreachable(new Error("boom"))).toBe(false);
  });
});

describe("isRetryable", () => {
  it("retries outages and transient errors, never bad input", () => {
    expect(isRetryable(new ConnectError("", Code.Unavailable))).toBe(true);
    expect(isRetryable(new ConnectError("", Code.DeadlineExceeded))).toBe(true);
    expect(isRetryable(new ConnectError("", Code.InvalidArgument))).toBe(false);
    expect(isRetryable(new ConnectError("", Code.NotFound))).toBe(false);
  });
});

describe("describeError", () => {
  it("says plainly when the server can't be reached, without made-up details", () => {
    const d = describeError(new ConnectError("HTTP 503", Code.Unavailable));
    expect(d).toEqual({
      title: "The Promptline server can't be reached right now.",
      hint: "What was last loaded stays on screen; the page retries by itself.",
      detail: undefined,
      code: "unavailable",
    });
    expect(describeError(ConnectError.from(new TypeError("Failed to fetch"))).code).toBe(
      "unavailable",
    );
  });

  it("keeps the server's own message as detail", () => {
    const d = describeError(new ConnectError("task 123 not found", Code.NotFound));
    expect(d.title).toMatch(/not found/i);
    expect(d.detail).toBe("task 123 not found");
    expect(d.code).toBe("not_found");
  });

  it("has words for every code, distinct from every other code's", () => {
    const titles = new Set<string>();
    for (let code = Code.Canceled; code <= Code.Unauthenticated; code++) {
      const { title } = describeError(new ConnectError("", code));
      expect(title, Code[code]).not.toBe("");
      titles.add(title);
    }
    expect(titles.size).toBe(Code.Unauthenticated - Code.Canceled + 1);
    expect(codeName(Code.FailedPrecondition)).toBe("failed_precondition");
  });

  it("says what to do where a person can do something", () => {
    const hint = (code: Code) => describeError(new ConnectError("x", code)).hint;
    expect(hint(Code.Unauthenticated)).toMatch(/sign in/i);
    expect(hint(Code.PermissionDenied)).toMatch(/admin/i);
    expect(hint(Code.InvalidArgument)).toMatch(/correct/i);
    expect(hint(Code.FailedPrecondition)).toMatch(/reload/i);
    expect(hint(Code.NotFound)).toMatch(/task list/i);
    expect(hint(Code.Internal)).toMatch(/log/i);
    // Asking again is the whole advice, and the title already says it.
    expect(hint(Code.ResourceExhausted)).toBeUndefined();
    expect(hint(Code.Aborted)).toBeUndefined();
  });
});

describe("parseFieldErrors", () => {
  const invalid = (msg: string) => new ConnectError(msg, Code.InvalidArgument);

  it("puts `field: reason` under the named field", () => {
    expect(parseFieldErrors(invalid("prompt: must not be empty"), FIELDS)).toEqual({
      fields: { prompt: "must not be empty" },
      other: [],
    });
  });

  it("matches nested, camelCase and indexed paths", () => {
    const parsed = parseFieldErrors(
      invalid(
        "params.max_tokens: must be at least 1; systemPrompt: too long\nparams.stop[2]: too long",
      ),
      FIELDS,
    );
    expect(parsed.fields).toEqual({
      max_tokens: "must be at least 1",
      system_prompt: "too long",
      stop: "too long",
    });
    expect(parsed.other).toEqual([]);
  });

  it("keeps a reason that itself contains '; ' in one piece", () => {
    const parsed = parseFieldErrors(invalid("model: unknown model; see ListModels"), [
      "model",
    ] as const);
    expect(parsed.fields).toEqual({ model: "unknown model; see ListModels" });
  });

  it("returns what names no known field as 'other'", () => {
    const parsed = parseFieldErrors(
      invalid("parent_task_id: no such task; dependency cycle detected"),
      FIELDS,
    );
    expect(parsed.fields).toEqual({});
    expect(parsed.other).toEqual(["parent_task_id: no such task; dependency cycle detected"]);
  });

  it("ignores errors other than InvalidArgument", () => {
    expect(parseFieldErrors(new ConnectError("prompt: x", Code.Internal), FIELDS)).toEqual({
      fields: {},
      other: [],
    });
    expect(parseFieldErrors(new Error("prompt: x"), FIELDS).fields).toEqual({});
  });
});

describe("isChunkLoadError", () => {
  it("recognises every browser's words for a page's code that did not load", () => {
    for (const message of [
      "Failed to fetch dynamically imported module: http://x/assets/DashboardPage-1.js",
      "error loading dynamically imported module: http://x/assets/DashboardPage-1.js",
      "Importing a module script failed.",
      "Unable to preload CSS for http://x/assets/DashboardPage-1.css",
    ]) {
      expect(isChunkLoadError(new TypeError(message)), message).toBe(true);
    }
    expect(isChunkLoadError(new TypeError("Cannot read properties of undefined"))).toBe(false);
    expect(isChunkLoadError("Failed to fetch dynamically imported module")).toBe(false);
  });
});

describe("formLevelError", () => {
  const refused = new ConnectError("prompt: must not be empty", Code.InvalidArgument);

  it("joins the reasons that name no control into one InvalidArgument", () => {
    const shown = formLevelError(refused, ["a: no", "b: no"], true);
    expect(shown).toBeInstanceOf(ConnectError);
    expect((shown as ConnectError).code).toBe(Code.InvalidArgument);
    expect((shown as ConnectError).rawMessage).toBe("a: no; b: no");
  });

  it("shows nothing more when every reason is beside its control", () => {
    expect(formLevelError(refused, [], true)).toBeUndefined();
  });

  it("shows the error itself when nothing named a control", () => {
    const down = new ConnectError("gone", Code.Unavailable);
    expect(formLevelError(down, [], false)).toBe(down);
  });
});
