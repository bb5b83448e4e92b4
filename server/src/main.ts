import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

// The only place that reads process.env: everything else receives Config.
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({
    ...process.env,
    PROMPTLINE_ROLE: process.argv[2] ?? process.env.PROMPTLINE_ROLE,
  });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}

const log = createLogger(
  config.log,
  (config.log.format ?? (process.stdout.isTTY ? "pretty" : "json")) === "pretty",
);

try {
  const app = await startApp(config, log);
  log.info(
    { role: config.role, url: app.url, ...app.using },
    app.url === undefined ? "Promptline worker running" : `Promptline running at ${app.url}`,
  );
  if (app.url !== undefined) {
    console.log(
      `\n  Promptline is running at ${app.url}\n  database: ${app.using.database}\n  redis:    ${app.using.redis}\n  models:   ${app.using.models}\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
} catch (error) {
  log.fatal({ err: error }, error instanceof Error ? error.message : "start failed");
  console.error(
    `\nPromptline could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
