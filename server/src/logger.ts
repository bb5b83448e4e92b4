import { type DestinationStream, type Logger, pino } from "pino";
import type { Config } from "./config.js";

/** Paths never written to logs, whatever object they appear in. */
const REDACT = [
  "apiKey",
  "*.apiKey",
  "*.*.apiKey",
  "api_key",
  "*.api_key",
  "authorization",
  "*.authorization",
  "Authorization",
  "*.Authorization",
  "headers.authorization",
  "headers.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "req.headers.authorization",
  "config.nim.apiKey",
  "NVIDIA_API_KEY",
  "*.NVIDIA_API_KEY",
];

/**
 * Credentials that can hide inside a string no path reaches (an error
 * message, a URL): a bearer token, an NVIDIA key.
 */
const SECRET_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer\s+)[^\s"\\]+/gi, "$1[redacted]"],
  [/\bnvapi-[A-Za-z0-9_-]{8,}/g, "[redacted]"],
  // A Promptline API key (pl_ and 43 base64url characters).
  [/\bpl_[A-Za-z0-9_-]{43}/g, "[redacted]"],
];

/** Shorter configured "secrets" are not scrubbed: replacing them would garble every line. */
const MIN_SECRET_LENGTH = 8;

/**
 * pino JSON logs; pretty when asked (LOG_FORMAT=pretty, or a terminal).
 * Secrets are removed twice: by path (`redact`) and, in the finished line,
 * by value (the configured keys) and by shape (bearer tokens, NVIDIA keys).
 * `destination` is for tests that read what was written.
 */
export function createLogger(
  config: Config["log"],
  pretty: boolean,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.level,
    redact: { paths: REDACT, censor: "[redacted]" },
    hooks: { streamWrite: secretScrubber(config.secrets) },
    ...(pretty && destination === undefined
      ? { transport: { target: "pino-pretty", options: { translateTime: "HH:MM:ss.l" } } }
      : {}),
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Replaces every known secret and secret-shaped string in a serialized log line. */
export function secretScrubber(secrets: readonly string[]): (line: string) => string {
  const values = secrets
    .filter((s) => s.length >= MIN_SECRET_LENGTH)
    // As written and as JSON escapes it inside a string.
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  return (line) => {
    let out = line;
    for (const value of values) out = out.split(value).join("[redacted]");
    for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}
