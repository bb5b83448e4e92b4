import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { launchChromium, screenshot } from "./browser.js";

let app: TestApp;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

beforeEach(async () => {
  page = await browser.newPage();
});

afterEach(async () => {
  await page.close();
});

describe("web UI in Chromium", () => {
  it("creates a task in the form and sees the simulator's output appear", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page.getByLabel("Name").fill("from the browser");
    await page.getByLabel("Prompt", { exact: true }).fill("Hello from Chromium");
    await page.getByLabel("Model").selectOption("simulator/echo");
    await expect
      .poll(() =>
        page.getByText("No NVIDIA_API_KEY set: tasks run on the built-in simulator").count(),
      )
      .toBe(1);
    await screenshot(page, "create-task");
    await page.getByRole("button", { name: "Create task" }).click();

    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await page
      .getByTestId("task-status")
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 15_000 });
    const output = await page.getByTestId("task-output").textContent();
    expect(output).toContain("Hello from Chromium");
    await screenshot(page, "task-detail");

    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    const row = page.getByTestId("task-row").filter({ hasText: "from the browser" });
    await row.waitFor();
    expect(await row.textContent()).toContain("completed");
    await screenshot(page, "task-list");
  });

  it("shows the server's field error under the field it names", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page.getByLabel("Prompt", { exact: true }).fill("bad temperature");
    await page.getByLabel("Model").selectOption("simulator/echo");
    await page.getByLabel("Max tokens").fill("2000000");
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByText(/must be from 1 to 1000000/).waitFor();
    expect(page.url()).toMatch(/\/tasks\/new$/);
  });

  it("shows a failed task's provider error", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page
      .getByLabel("Prompt", { exact: true })
      .fill('[[sim status=401 message="invalid api key"]] hi');
    await page.getByLabel("Model").selectOption("simulator/echo");
    await page.getByRole("button", { name: "Create task" }).click();
    await page
      .getByTestId("task-status")
      .filter({ hasText: "failed" })
      .waitFor({ timeout: 15_000 });
    const error = await page.getByTestId("task-error").textContent();
    expect(error).toContain("PROVIDER_UNAUTHORIZED");
    expect(error).toContain("invalid api key");
    await screenshot(page, "task-failed");
  });
});
