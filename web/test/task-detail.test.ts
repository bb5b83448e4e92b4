import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStatus } from "@promptline/proto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { settled } from "../../server/test/task-client.js";
import { checkPageInBothThemes } from "./a11y.js";
import { browserTestApp } from "./fixture.js";

const ECHO = "simulator/echo";
const ui = browserTestApp({
  context: {
    viewport: { width: 1280, height: 900 },
    permissions: ["clipboard-read", "clipboard-write"],
  },
  failureScreenshot: "task-detail-failed-test",
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
    const { task } = await ui.client.createTask({
      name: "markdown answer",
      prompt: MARKDOWN,
      model: ECHO,
    });
    await settled(ui.client, task?.id ?? "");
    await ui.page.goto(`${ui.app.url}/tasks/${task?.id}`);
    await status(ui.page, "completed").waitFor();
    const output = ui.page.getByTestId("task-output");
    await output.locator("h1", { hasText: "Release notes" }).waitFor();
    expect(await output.locator("strong").textContent()).toBe("bold");
    expect(await output.locator("code.hljs .hljs-keyword").first().textContent()).toBe("const");
    expect(await output.locator("td").allTextContents()).toEqual(["echo", "3"]);
    expect(await output.locator("a").getAttribute("rel")).toContain("noopener");
    // Raw HTML in the output is never turned into elements, let alone run.
    expect(await output.locator("img, script").count()).toBe(0);
    expect(await ui.page.evaluate(() => (window as { __pwned?: boolean }).__pwned)).toBeUndefined();
    await checkPageInBothThemes(ui.page, "task-detail-markdown");

    await ui.page.getByRole("button", { name: "Copy code" }).click();
    await expect
      .poll(() => ui.page.evaluate(() => navigator.clipboard.readText()))
      .toBe("const answer = 42;");

    await ui.page.getByRole("button", { name: "Raw" }).click();
    const raw = await ui.page.getByTestId("task-output").textContent();
    expect(raw).toBe(`Echo: ${MARKDOWN}`);

    await ui.page.getByRole("button", { name: "Copy output" }).click();
    await expect
      .poll(() => ui.page.evaluate(() => navigator.clipboard.readText()))
      .toBe(`Echo: ${MARKDOWN}`);
  });

  it("shows the status timeline from the task's events, every attempt, and its measures", async () => {
    const key = `warm${Date.now()}`;
    // The first attempt meets a 503, the retry succeeds.
    const { task } = await ui.client.createTask({
      name: "second time lucky",
      prompt: `[[sim warmup=1 status=503 retry_after_ms=50 key=${key} ttft=100 tps=40 tokens=10]] hello there friend`,
      model: "simulator/lorem",
    });
    await ui.page.goto(`${ui.app.url}/tasks/${task?.id}`);
    await status(ui.page, "completed").waitFor({ timeout: 20_000 });
    const rows = ui.page.getByTestId("attempt-row");
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toMatch(
      /failed.*PROVIDER_(SERVER_ERROR|UNAVAILABLE).*503/,
    );
    expect(await rows.nth(1).textContent()).toContain("succeeded");

    const steps = ui.page.getByTestId("timeline-step");
    const texts = await steps.allTextContents();
    const words = texts.map(
      (t) => /^(pending|queued|running|completed|failed|cancelled)/.exec(t)?.[1],
    );
    // Nothing to wait for, so it was stored straight into the queue.
    expect(words).toEqual(["queued", "running", "queued", "running", "completed"]);
    expect(texts[0]).toMatch(/In the queue\s*\d/);
    expect(texts[1]).toMatch(/attempt 1/);
    expect(texts[1]).toMatch(/Ran\s*\d/);
    expect(texts[2]).toMatch(/PROVIDER_\w+/);

    const usage = ui.page.getByRole("region", { name: "Usage" });
    expect(await usage.textContent()).toMatch(/Tokens per second\d+(\.\d)? tokens\/s/);
    const model = ui.page.getByRole("region", { name: "Model" });
    expect(await model.textContent()).toContain("simulator");
    const details = await ui.page.getByRole("region", { name: "Details" }).textContent();
    expect(details).toMatch(/Request id[0-9a-zA-Z-]{8,}/);
    await checkPageInBothThemes(ui.page, "task-detail-timeline");
  });

  it("explains a failure with its code and what to do about it", async () => {
    const { task } = await ui.client.createTask({
      prompt: '[[sim status=401 message="invalid api key"]] hi',
      model: ECHO,
    });
    await ui.page.goto(`${ui.app.url}/tasks/${task?.id}`);
    await status(ui.page, "failed").waitFor({ timeout: 15_000 });
    const error = ui.page.getByTestId("task-error");
    expect(await error.textContent()).toContain("PROVIDER_UNAUTHORIZED");
    expect(await ui.page.getByTestId("task-error-hint").textContent()).toMatch(/API key/);
    await checkPageInBothThemes(ui.page, "task-detail-error");
  });

  it("cancels, retries and (after confirming) deletes a task", async () => {
    const { task } = await ui.client.createTask({
      name: "scheduled for tomorrow",
      prompt: "later",
      model: ECHO,
      runAt: timestampFromMs(Date.now() + 24 * 3_600_000),
    });
    const id = task?.id ?? "";
    await ui.page.goto(`${ui.app.url}/tasks/${id}`);
    await status(ui.page, "pending").waitFor();
    expect(await ui.page.getByRole("region", { name: "Details" }).textContent()).toContain(
      "Scheduled for",
    );
    expect(await ui.page.getByRole("button", { name: "Delete" }).count()).toBe(0);

    await ui.page.getByRole("button", { name: "Cancel", exact: true }).click();
    await status(ui.page, "cancelled").waitFor();
    await ui.page.getByRole("button", { name: "Retry", exact: true }).click();
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toBe("Echo: later");
    await expect.poll(() => ui.page.getByTestId("attempt-row").count()).toBe(1);

    await ui.page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = ui.page.getByRole("dialog", { name: "Delete this task?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Keep it" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await ui.client.getTask({ id })).task?.status).toBe(TaskStatus.COMPLETED);

    await ui.page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete task" }).click();
    await ui.page.waitForURL(`${ui.app.url}/`);
    const gone = await ui.client.getTask({ id }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e).code,
    );
    expect(gone).toBe(Code.NotFound);
  });
});
