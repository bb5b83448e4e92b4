import { randomUUID } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../../server/src/auth/keys.js";
import { ensureUser, insertApiKey } from "../../server/src/db/auth.js";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { connectClient, settled, type TaskClient } from "../../server/test/task-client.js";
import { checkPageInBothThemes } from "./a11y.js";
import { launchChromium, screenshot } from "./browser.js";

const ECHO = "simulator/echo";
let app: TestApp;
let client: TaskClient;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
  client = connectClient(app.url);
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" || (ctx.task.result?.errors?.length ?? 0) > 0) {
    await screenshot(page, "dashboard-failed-test");
  }
  await page.close();
});

const count = (p: Page, status: string) => p.getByTestId(`count-${status}`);

// Tests run in order against one app: first with no task at all, then with some.
describe("dashboard in Chromium", { timeout: 60_000 }, () => {
  it("says what to do when nothing has run yet", async () => {
    await page.goto(`${app.url}/dashboard`);
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    await page.getByText("No tasks finished, last hour").waitFor();
    await page.getByText("Nothing waiting or running").waitFor();
    expect(await count(page, "completed").textContent()).toBe("0");
    expect(await page.getByTestId("metric-totals").getByText("—").count()).toBeGreaterThan(0);
    // The app runs its own worker.
    await page.getByTestId("workers").getByRole("row").nth(1).waitFor();
    await page.getByRole("link", { name: "New task" }).last().waitFor();
    await checkPageInBothThemes(page, "dashboard-empty");
  });

  it("shows counts, charts, usage by model and workers, and refreshes by itself", async () => {
    const created = await client.batchCreateTasks({
      tasks: [
        { prompt: "one", model: ECHO },
        { prompt: "two", model: ECHO },
        { prompt: '[[sim status=400 message="nope"]] three', model: ECHO },
      ],
    });
    for (const t of created.tasks) await settled(client, t.id);
    await page.goto(`${app.url}/dashboard`);
    await count(page, "completed").filter({ hasText: "2" }).waitFor();
    expect(await count(page, "failed").textContent()).toBe("1");
    const totals = page.getByTestId("metric-totals");
    await totals.getByText("33%").waitFor();
    const usage = page.getByTestId("model-usage");
    await usage.getByRole("row", { name: new RegExp(ECHO) }).waitFor();
    expect(await usage.getByRole("row").nth(1).textContent()).toMatch(/simulator\/echo\s*31/);
    for (const chart of ["throughput", "errors", "latency", "tokens"]) {
      await page.getByTestId(`chart-${chart}`).locator("canvas").first().waitFor();
    }
    const worker = page.getByTestId("workers").getByRole("row").nth(1);
    expect(await worker.textContent()).toMatch(/:\d+/);

    // A task finishing elsewhere shows up without a reload.
    const { task } = await client.createTask({ prompt: "four", model: ECHO });
    await settled(client, task?.id ?? "");
    await count(page, "completed").filter({ hasText: "3" }).waitFor({ timeout: 15_000 });
    await totals.getByText("25%").waitFor();

    // The range lives in the URL.
    await page.getByLabel("Range").selectOption("24h");
    await page.waitForURL(/range=24h/);
    await page.getByRole("heading", { name: "Finished tasks, last 24 hours" }).waitFor();
    await totals.getByText("25%").waitFor();

    await checkPageInBothThemes(page, "dashboard", () =>
      page.getByTestId("chart-latency").locator("canvas").first().waitFor(),
    );

    // A count opens the task list filtered by its status.
    await count(page, "failed").click();
    await page.waitForURL(/\/\?status=failed$/);
    await page.getByTestId("task-row").first().waitFor();
    const rows = await page.getByTestId("task-row").allTextContents();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain("failed");
  });

  it("is usable by keyboard: range, counts and tables each take focus with a visible ring", async () => {
    await page.goto(`${app.url}/dashboard`);
    await page.getByTestId("model-usage").waitFor();
    const reached = new Set<string>();
    for (let i = 0; i < 40 && reached.size < 4; i++) {
      await page.keyboard.press("Tab");
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        if (!(el instanceof HTMLElement)) return undefined;
        const s = getComputedStyle(el);
        return {
          what:
            el.tagName === "SELECT"
              ? "range"
              : (el.dataset.testid ?? el.getAttribute("aria-label") ?? ""),
          ring: s.outlineStyle !== "none" && s.outlineWidth !== "0px",
        };
      });
      if (focus === undefined) continue;
      for (const [key, match] of [
        ["range", /^range$/],
        ["count", /^count-/],
        ["usage table", /^Tokens and cost by model/],
        ["workers table", /^Worker processes/],
      ] as const) {
        if (match.test(focus.what)) {
          expect(focus.ring, `focus ring on ${key}`).toBe(true);
          reached.add(key);
        }
      }
    }
    expect([...reached].sort()).toEqual(["count", "range", "usage table", "workers table"]);
  });

  it("fits a phone's width with nothing cut off", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${app.url}/dashboard`);
    await page.getByTestId("chart-throughput").locator("canvas").first().waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBe(0);
    await screenshot(page, "dashboard-phone");
  });

  it("stops asking while the tab is hidden", async () => {
    await page.goto(`${app.url}/dashboard`);
    await count(page, "completed").waitFor();
    let calls = 0;
    page.on("request", (r) => {
      if (r.url().endsWith("/GetQueueStats")) calls++;
    });
    // What a browser does when the tab goes to the background.
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    const before = calls;
    // Proving that nothing is asked takes waiting: longer than one refresh period (5 s).
    await page.waitForTimeout(6_500);
    expect(calls).toBe(before);
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await expect.poll(() => calls, { timeout: 10_000 }).toBeGreaterThan(before);
  });
});

describe("dashboard with sign-in on (AUTH_MODE=keys)", { timeout: 60_000 }, () => {
  let keyed: TestApp;

  beforeAll(async () => {
    keyed = await startTestApp({ AUTH_MODE: "keys" });
  });
  afterAll(async () => {
    await keyed?.close();
  });

  it("tells a member it is for admins instead of showing three refusals", async () => {
    const user = await ensureUser(keyed.db, `member-${randomUUID().slice(0, 6)}`, "member");
    const key = generateApiKey();
    await insertApiKey(keyed.db, {
      userId: user.id,
      name: "",
      prefix: key.prefix,
      keyHash: key.hash,
    });
    await page.goto(`${keyed.url}/dashboard`);
    await page.waitForURL(/\/sign-in/);
    await page.getByLabel("API key").fill(key.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${keyed.url}/dashboard`);
    await page.getByRole("heading", { name: "The dashboard is for admins" }).waitFor();
    expect(await page.getByRole("alert").filter({ hasText: "not allowed" }).count()).toBe(0);
    await checkPageInBothThemes(page, "dashboard-member");
  });
});
