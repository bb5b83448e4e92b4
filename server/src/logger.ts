import { type Logger, pino } from "pino";
import type { Config } from "./config.js";

/** Paths never written to logs, whatever object they appear in. */
const REDACT = [
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  "config.nim.apiKey",
];

/** pino JSON logs; pretty when asked (LOG_FORMAT=pretty, or a terminal). */
export function createLogger(config: Config["log"], pretty: boolean): Logger {
  return pino({
    level: config.level,
    redact: { paths: REDACT, censor: "[redacted]" },
    ...(pretty
      ? { transport: { target: "pino-pretty", options: { translateTime: "HH:MM:ss.l" } } }
      : {}),
  });
}
