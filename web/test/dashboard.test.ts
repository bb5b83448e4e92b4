import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../server/src/auth/keys.js";
import { ensureUser, insertApiKey } from "../../server/src/db/auth.js";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { settled } from "../../server/test/task-client.js";
import { checkPageInBothThemes } from "./a11y.js";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ECHO = "simulator/echo";
const ui = browserTestApp({ failureScreenshot: "dashboard-failed-test" });

const count = (p: Page, status: string) => p.getByTestId(`count-${status}`);

// Tests run in order against one app: first with no task at all, then with some.
describe("dashboard in Chromium", { timeout: 60_000 }, () => {
  it("says what to do when nothing has run yet", async () => {
    await ui.page.goto(`${ui.app.url}/dashboard`);
    await ui.page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    await ui.page.getByText("No tasks finished, last hour").waitFor();
    await ui.page.getByText("Nothing waiting or running").waitFor();
    expect(await count(ui.page, "completed").textContent()).toBe("0");
    expect(await ui.page.getByTestId("metric-totals").getByText("—").count()).toBeGreaterThan(0);
    // The app runs its own worker.
    await ui.page.getByTestId("workers").getByRole("row").nth(1).waitFor();
    await ui.page.getByRole("link", { name: "New task" }).last().waitFor();
    await checkPageInBothThemes(ui.page, "dashboard-empty");
  });

  it("shows counts, charts, usage by model and workers, and refreshes by itself", async () => {
    const created = await ui.client.batchCreateTasks({
      tasks: [
        { prompt: "one", model: ECHO },
        { prompt: "two", model: ECHO },
        { prompt: '[[sim status=400 message="nope"]] three', model: ECHO },
      ],
    });
    for (const t of created.tasks) await settled(ui.client, t.id);
    await ui.page.goto(`${ui.app.url}/dashboard`);
    await count(ui.page, "completed").filter({ hasText: "2" }).waitFor();
    expect(await count(ui.page, "failed").textContent()).toBe("1");
    const totals = ui.page.getByTestId("metric-totals");
    await totals.getByText("33%").waitFor();
    const usage = ui.page.getByTestId("model-usage");
    await usage.getByRole("row", { name: new RegExp(ECHO) }).waitFor();
    expect(await usage.getByRole("row").nth(1).textContent()).toMatch(/simulator\/echo\s*31/);
    for (const chart of ["throughput", "errors", "latency", "tokens"]) {
      await ui.page.getByTestId(`chart-${chart}`).locator("canvas").first().waitFor();
    }
    const worker = ui.page.getByTestId("workers").getByRole("row").nth(1);
    expect(await worker.textContent()).toMatch(/:\d+/);

    // A task finishing elsewhere shows up without a reload.
    const { task } = await ui.client.createTask({ prompt: "four", model: ECHO });
    await settled(ui.client, task?.id ?? "");
    await count(ui.page, "completed").filter({ hasText: "3" }).waitFor({ timeout: 15_000 });
    await totals.getByText("25%").waitFor();

    // The range lives in the URL.
    await ui.page.getByLabel("Range").selectOption("24h");
    await ui.page.waitForURL(/range=24h/);
    await ui.page.getByRole("heading", { name: "Finished tasks, last 24 hours" }).waitFor();
    await totals.getByText("25%").waitFor();

    await checkPageInBothThemes(ui.page, "dashboard", () =>
      ui.page.getByTestId("chart-latency").locator("canvas").first().waitFor(),
    );

    // A count opens the task list filtered by its status.
    await count(ui.page, "failed").click();
    await ui.page.waitForURL(/\/\?status=failed$/);
    await ui.page.getByTestId("task-row").first().waitFor();
    const rows = await ui.page.getByTestId("task-row").allTextContents();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain("failed");
  });

  it("is usable by keyboard: range, counts and tables each take focus with a visible ring", async () => {
    await ui.page.goto(`${ui.app.url}/dashboard`);
    await ui.page.getByTestId("model-usage").waitFor();
    const reached = new Set<string>();
    for (let i = 0; i < 40 && reached.size < 4; i++) {
      await ui.page.keyboard.press("Tab");
      const focus = await ui.page.evaluate(() => {
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
    await ui.page.setViewportSize({ width: 375, height: 800 });
    await ui.page.goto(`${ui.app.url}/dashboard`);
    await ui.page.getByTestId("chart-throughput").locator("canvas").first().waitFor();
    const overflow = await ui.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBe(0);
    await screenshot(ui.page, "dashboard-phone");
  });

  it("stops asking while the tab is hidden", async () => {
    await ui.page.goto(`${ui.app.url}/dashboard`);
    await count(ui.page, "completed").waitFor();
    let calls = 0;
    ui.page.on("request", (r) => {
      if (r.url().endsWith("/GetQueueStats")) calls++;
    });
    // What a browser does when the tab goes to the background.
    await ui.page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    const before = calls;
    // Proving that nothing is asked takes waiting: longer than one refresh period (5 s).
    await ui.page.waitForTimeout(6_500);
    expect(calls).toBe(before);
    await ui.page.evaluate(() => {
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
    await ui.page.goto(`${keyed.url}/dashboard`);
    await ui.page.waitForURL(/\/sign-in/);
    await ui.page.getByLabel("API key").fill(key.key);
    await ui.page.getByRole("button", { name: "Sign in" }).click();
    await ui.page.waitForURL(`${keyed.url}/dashboard`);
    await ui.page.getByRole("heading", { name: "The dashboard is for admins" }).waitFor();
    expect(await ui.page.getByRole("alert").filter({ hasText: "not allowed" }).count()).toBe(0);
    await checkPageInBothThemes(ui.page, "dashboard-member");
  });
});
