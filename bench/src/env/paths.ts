import { fileURLToPath } from "node:url";

/** The repository root, whatever directory `pnpm bench` was started from. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The server package: processes start there so `--import tsx` resolves. */
export const SERVER_DIR = fileURLToPath(new URL("../../../server/", import.meta.url));

export const SERVER_MAIN = fileURLToPath(new URL("../../../server/src/main.ts", import.meta.url));

export const SIMULATOR_MAIN = fileURLToPath(
  new URL("../../../server/src/llm/simulator-cli.ts", import.meta.url),
);
