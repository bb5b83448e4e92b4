import { defineConfig } from "vitest/config";

// One runner for the whole workspace. Every test isolates itself (own database,
// own queue prefix, servers on port 0), so files run in parallel.
export default defineConfig({
  test: {
    include: [
      "server/**/*.test.ts",
      "web/**/*.test.ts",
      "migrations/**/*.test.ts",
      "test/**/*.test.ts",
      "bench/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
