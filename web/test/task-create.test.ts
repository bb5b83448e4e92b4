import { timestampMs } from "@bufbuild/protobuf/wkt";
import { TaskStatus } from "@promptline/proto";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { connectClient, type TaskClient } from "../../server/test/task-client.js";
import { launchChromium, screenshot, screenshotLightAndDark } from "./browser.js";

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
    await screenshot(page, "task-create-failed-test");
  }
  await page.close();
});

/** `datetime-local`'s value for a moment, in the browser's (and this process's) local time. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

describe("create form in Chromium", { timeout: 60_000 }, () => {
  it("schedules a task for later: it waits as pending with its time shown", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page.getByLabel("Prompt", { exact: true }).fill("run me tomorrow");
    await page.getByLabel("Model").selectOption("simulator/echo");
    await page.getByLabel("Later").check();
    const at = Date.now() + 26 * 3_600_000;
    await page.getByLabel("Run at").fill(localInput(at));
    await screenshotLightAndDark(page, "task-create");
    await page.getByRole("button", { name: "Create task" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await page.getByTestId("task-status").filter({ hasText: "pending" }).waitFor();
    expect(await page.getByRole("region", { name: "Details" }).textContent()).toContain(
      "Scheduled for",
    );
    const id = page.url().split("/").at(-1) ?? "";
    const { task } = await client.getTask({ id });
    expect(task?.status).toBe(TaskStatus.PENDING);
    // To the minute, as the control holds it.
    const runAt = task?.runAt === undefined ? 0 : timestampMs(task.runAt);
    expect(Math.abs(runAt - at)).toBeLessThan(60_000);
  });

  it("refuses a time in the past next to the control, before sending anything", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page.getByLabel("Prompt", { exact: true }).fill("too late");
    await page.getByLabel("Model").selectOption("simulator/echo");
    await page.getByLabel("Later").check();
    await page.getByLabel("Run at").fill(localInput(Date.now() - 3 * 3_600_000));
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByText("This time has passed").waitFor();
    expect(await page.getByLabel("Run at").getAttribute("aria-invalid")).toBe("true");
    expect(page.url()).toMatch(/\/tasks\/new$/);
  });
});
