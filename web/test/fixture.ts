import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { connectClient, type TaskClient } from "../../server/test/task-client.js";
import { launchChromium, screenshot } from "./browser.js";

/** What a browser test file works with; each getter is valid inside its tests and hooks. */
export interface BrowserApp {
  /** The file's own Promptline (own database, own queue prefix), started once per file. */
  readonly app: TestApp;
  /** A TaskService client for that app, for arranging tasks without the UI. */
  readonly client: TaskClient;
  readonly browser: Browser;
  /** A fresh page (in its own browser context) for each test. */
  readonly page: Page;
}

/**
 * Registers the hooks every browser test file needs: one app and one Chromium
 * for the file, a new page per test, and everything closed afterwards.
 */
export function browserTestApp(
  options: {
    /** Extra environment for the app, e.g. `{ AUTH_MODE: "keys" }`. */
    env?: Record<string, string>;
    /** Options for each test's browser context; a 1280×900 viewport by default. */
    context?: BrowserContextOptions;
    /** If set, a failed test saves a screenshot under this name (a CI artifact). */
    failureScreenshot?: string;
  } = {},
): BrowserApp {
  let app: TestApp | undefined;
  let client: TaskClient | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;

  beforeAll(async () => {
    [app, browser] = await Promise.all([startTestApp(options.env), launchChromium()]);
    client = connectClient(app.url);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  beforeEach(async () => {
    context = await need(browser, "browser").newContext(
      options.context ?? { viewport: { width: 1280, height: 900 } },
    );
    page = await context.newPage();
  });

  afterEach(async (ctx) => {
    const failed = ctx.task.result?.state === "fail" || (ctx.task.result?.errors?.length ?? 0) > 0;
    if (failed && options.failureScreenshot !== undefined && page !== undefined) {
      await screenshot(page, options.failureScreenshot);
    }
    await context?.close();
  });

  return {
    get app() {
      return need(app, "app");
    },
    get client() {
      return need(client, "client");
    },
    get browser() {
      return need(browser, "browser");
    },
    get page() {
      return need(page, "page");
    },
  };
}

function need<T>(value: T | undefined, what: string): T {
  // Only reachable from code outside a test or hook, or after beforeAll failed.
  if (value === undefined) throw new Error(`${what} is not ready: use it inside a test or hook`);
  return value;
}
