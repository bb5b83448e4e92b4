import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStatus } from "@promptline/proto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { connectClient, settled, type TaskClient } from "../../server/test/task-client.js";
import { checkPageInBothThemes } from "./a11y.js";
import { launchChromium, screenshot } from "./browser.js";

const ECHO = "simulator/echo";
let app: TestApp;
let client: TaskClient;
let browser: Browser;
let context: BrowserContext;
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
  context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    permissions: ["clipboard-read", "clipboard-write"],
  });
  page = await context.newPage();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" || (ctx.task.result?.errors?.length ?? 0) > 0) {
    await screenshot(page, "task-detail-failed-test");
  }
  await context.close();
});

function status(p: Page, word: string) {
  return p.getByTestId("task-status").filter({ hasText: word });
}

const MARKDOWN = [
  "intro",
  "",
  "# Release notes",
  "",
  "Some **bold** text and a [link](https://example.com).",
  "",
  "```js",
  "const answer = 42;",
  "```",
  "",
  "| model | tokens |",
  "|-------|--------|",
  "| echo  | 3      |",
  "",
  '<img src="x" onerror="window.__pwned = true"><script>window.__pwned = true</script>',
].join("\n");

describe("task detail in Chromium", { timeout: 60_000 }, () => {
  it("renders the output as Markdown with highlighted code, safely, with a raw view and a copy button", async () => {
    const { task } = await client.createTask({
      name: "markdown answer",
      prompt: MARKDOWN,
      model: ECHO,
    });
    await settled(client, task?.id ?? "");
    await page.goto(`${app.url}/tasks/${task?.id}`);
    await status(page, "completed").waitFor();
    const output = page.getByTestId("task-output");
    await output.locator("h1", { hasText: "Release notes" }).waitFor();
    expect(await output.locator("strong").textContent()).toBe("bold");
    expect(await output.locator("code.hljs .hljs-keyword").first().textContent()).toBe("const");
    expect(await output.locator("td").allTextContents()).toEqual(["echo", "3"]);
    expect(await output.locator("a").getAttribute("rel")).toContain("noopener");
    // Raw HTML in the output is never turned into elements, let alone run.
    expect(await output.locator("img, script").count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: boolean }).__pwned)).toBeUndefined();
    await checkPageInBothThemes(page, "task-detail-markdown");

    await page.getByRole("button", { name: "Copy code" }).click();
    await expect
      .poll(() => page.evaluate(() => navigator.clipboard.readText()))
      .toBe("const answer = 42;");

    await page.getByRole("button", { name: "Raw" }).click();
    const raw = await page.getByTestId("task-output").textContent();
    expect(raw).toBe(`Echo: ${MARKDOWN}`);

    await page.getByRole("button", { name: "Copy output" }).click();
    await expect
      .poll(() => page.evaluate(() => navigator.clipboard.readText()))
      .toBe(`Echo: ${MARKDOWN}`);
  });

  it("shows the status timeline from the task's events, every attempt, and its measures", async () => {
    const key = `warm${Date.now()}`;
    // The first attempt meets a 503, the retry succeeds.
    const { task } = await client.createTask({
      name: "second time lucky",
      prompt: `[[sim warmup=1 status=503 retry_after_ms=50 key=${key} ttft=100 tps=40 tokens=10]] hello there friend`,
      model: "simulator/lorem",
    });
    await page.goto(`${app.url}/tasks/${task?.id}`);
    await status(page, "completed").waitFor({ timeout: 20_000 });
    const rows = page.getByTestId("attempt-row");
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toMatch(
      /failed.*PROVIDER_(SERVER_ERROR|UNAVAILABLE).*503/,
    );
    expect(await rows.nth(1).textContent()).toContain("succeeded");

    const steps = page.getByTestId("timeline-step");
    const texts = await steps.allTextContents();
    const words = texts.map(
      (t) => /^(pending|queued|running|completed|failed|cancelled)/.exec(t)?.[1],
    );
    expect(words).toEqual(["pending", "queued", "running", "queued", "running", "completed"]);
    expect(texts[1]).toMatch(/In the queue\s*\d/);
    expect(texts[2]).toMatch(/attempt 1/);
    expect(texts[2]).toMatch(/Ran\s*\d/);
    expect(texts[3]).toMatch(/PROVIDER_\w+/);

    const usage = page.getByRole("region", { name: "Usage" });
    expect(await usage.textContent()).toMatch(/Tokens per second\d+(\.\d)? tokens\/s/);
    const model = page.getByRole("region", { name: "Model" });
    expect(await model.textContent()).toContain("simulator");
    const details = await page.getByRole("region", { name: "Details" }).textContent();
    expect(details).toMatch(/Request id[0-9a-zA-Z-]{8,}/);
    await checkPageInBothThemes(page, "task-detail-timeline");
  });

  it("explains a failure with its code and what to do about it", async () => {
    const { task } = await client.createTask({
      prompt: '[[sim status=401 message="invalid api key"]] hi',
      model: ECHO,
    });
    await page.goto(`${app.url}/tasks/${task?.id}`);
    await status(page, "failed").waitFor({ timeout: 15_000 });
    const error = page.getByTestId("task-error");
    expect(await error.textContent()).toContain("PROVIDER_UNAUTHORIZED");
    expect(await page.getByTestId("task-error-hint").textContent()).toMatch(/API key/);
    await checkPageInBothThemes(page, "task-detail-error");
  });

  it("cancels, retries and (after confirming) deletes a task", async () => {
    const { task } = await client.createTask({
      name: "scheduled for tomorrow",
      prompt: "later",
      model: ECHO,
      runAt: timestampFromMs(Date.now() + 24 * 3_600_000),
    });
    const id = task?.id ?? "";
    await page.goto(`${app.url}/tasks/${id}`);
    await status(page, "pending").waitFor();
    expect(await page.getByRole("region", { name: "Details" }).textContent()).toContain(
      "Scheduled for",
    );
    expect(await page.getByRole("button", { name: "Delete" }).count()).toBe(0);

    await page.getByRole("button", { name: "Cancel", exact: true }).click();
    await status(page, "cancelled").waitFor();
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await status(page, "completed").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("task-output").textContent()).toBe("Echo: later");
    await expect.poll(() => page.getByTestId("attempt-row").count()).toBe(1);

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this task?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Keep it" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await client.getTask({ id })).task?.status).toBe(TaskStatus.COMPLETED);

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete task" }).click();
    await page.waitForURL(`${app.url}/`);
    const gone = await client.getTask({ id }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e).code,
    );
    expect(gone).toBe(Code.NotFound);
  });
});
