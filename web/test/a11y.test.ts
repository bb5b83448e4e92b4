import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CuttableProxy } from "../../server/test/fault-tools.js";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { connectClient, settled, type TaskClient } from "../../server/test/task-client.js";
import { checkPageInBothThemes, expectNoSeriousA11yViolations } from "./a11y.js";
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
    await screenshot(page, "a11y-failed-test");
  }
  await page.close();
});

/** Whether the focused element (or the label that draws its ring) shows a focus outline. */
function focusIsVisible(p: Page): Promise<{ tag: string; name: string; visible: boolean }> {
  return p.evaluate(() => {
    const el = document.activeElement;
    if (!(el instanceof HTMLElement)) return { tag: "none", name: "", visible: false };
    const ringed = (e: Element) => {
      const s = getComputedStyle(e);
      return (s.outlineStyle !== "none" && s.outlineWidth !== "0px") || s.boxShadow !== "none";
    };
    const label = el.closest("label");
    return {
      tag: el.tagName.toLowerCase(),
      name: (el.getAttribute("aria-label") ?? el.textContent ?? "").trim().slice(0, 40),
      visible: ringed(el) || (label !== null && ringed(label)),
    };
  });
}

describe("every page in Chromium: accessible, in light and dark, at any width", {
  timeout: 90_000,
}, () => {
  it("the task list, empty and then with tasks", async () => {
    await page.goto(`${app.url}/`);
    await page.getByText("No tasks yet").waitFor();
    await checkPageInBothThemes(page, "a11y-list-empty");

    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { name: "first", prompt: "hello", model: ECHO },
        { name: "second", prompt: '[[sim status=400 message="bad"]] hi', model: ECHO },
      ],
    });
    for (const t of tasks) await settled(client, t.id);
    await page.reload();
    await page.getByTestId("task-row").nth(1).waitFor();
    await checkPageInBothThemes(page, "a11y-list");
  });

  it("the new-task form, including its field errors", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page.getByLabel("Prompt", { exact: true }).waitFor();
    await page.getByLabel("Model").selectOption(ECHO);
    await checkPageInBothThemes(page, "a11y-new-task");
    await page.getByLabel("Prompt", { exact: true }).fill("too many tokens");
    await page.getByLabel("Max tokens").fill("2000000");
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByText(/must be from 1 to 1000000/).waitFor();
    await checkPageInBothThemes(page, "a11y-new-task-errors");
  });

  it("a task's detail page, finished and failed, with its lineage", async () => {
    const { tasks } = await client.batchCreateTasks({
      tasks: [
        { ref: "a", name: "parent", prompt: "one", model: ECHO },
        {
          ref: "b",
          parentRef: "a",
          name: "child",
          prompt: '[[sim status=401 message="invalid api key"]] {{parent.output}}',
          model: ECHO,
        },
      ],
    });
    for (const t of tasks) await settled(client, t.id);
    const [parent, child] = tasks;
    await page.goto(`${app.url}/tasks/${parent?.id}`);
    await page.getByTestId("task-status").filter({ hasText: "completed" }).waitFor();
    await page.getByTestId("lineage-graph").waitFor();
    await checkPageInBothThemes(page, "a11y-task-detail");

    await page.goto(`${app.url}/tasks/${child?.id}`);
    await page.getByTestId("task-error").waitFor();
    await checkPageInBothThemes(page, "a11y-task-failed");
  });

  it("a task that does not exist, and a page that does not exist", async () => {
    await page.goto(`${app.url}/tasks/00000000-0000-4000-8000-000000000000`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    await checkPageInBothThemes(page, "a11y-task-missing");
    await page.goto(`${app.url}/no/such/page`);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
    await checkPageInBothThemes(page, "a11y-not-found");
  });

  it("the templates pages and the sign-in page", async () => {
    await page.goto(`${app.url}/templates`);
    await page.getByText("No templates yet").waitFor();
    await checkPageInBothThemes(page, "a11y-templates-empty");
    await page.goto(`${app.url}/templates/new`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    await page.getByLabel("Model").waitFor();
    await checkPageInBothThemes(page, "a11y-template-new");
    await page.goto(`${app.url}/sign-in`);
    const signIn = () => page.getByRole("heading", { name: "Sign in to Promptline" }).waitFor();
    await signIn();
    await checkPageInBothThemes(page, "a11y-sign-in", signIn);
  });

  it("remembers the theme chosen in the header, over the system's", async () => {
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto(`${app.url}/`);
    const html = page.locator("html");
    expect(await html.getAttribute("data-theme")).toBe("light");
    // The radio itself is visually hidden; a person clicks its icon.
    await page.getByTitle("Dark").click();
    expect(await html.getAttribute("data-theme")).toBe("dark");
    await page.reload();
    expect(await html.getAttribute("data-theme")).toBe("dark");
    expect(await page.getByRole("radio", { name: "Dark" }).isChecked()).toBe(true);
    await screenshot(page, "theme-dark-chosen");

    // Back to following the system, which then decides.
    await page.getByTitle("System").click();
    expect(await html.getAttribute("data-theme")).toBe("light");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.locator('html[data-theme="dark"]').waitFor({ state: "attached" });
  });

  it("reaches every control in the header and form by keyboard, each with a visible focus ring", async () => {
    await page.goto(`${app.url}/tasks/new`);
    await page.getByLabel("Prompt", { exact: true }).waitFor();
    const seen: string[] = [];
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press("Tab");
      const focus = await focusIsVisible(page);
      seen.push(`${focus.tag}:${focus.name}`);
      expect(focus.visible, `focus ring on ${focus.tag} "${focus.name}"`).toBe(true);
    }
    const joined = seen.join(" | ");
    expect(joined).toContain("Skip to content");
    expect(joined).toContain("a:New task");
    expect(joined).toContain("input:");
    expect(joined).toContain("textarea:");

    // The theme is a radio group: one Tab stop, arrow keys choose.
    await page.getByRole("radio", { name: "System" }).focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.locator("html").getAttribute("data-theme")).toBe("light");
    await page.keyboard.press("ArrowRight");
    expect(await page.locator("html").getAttribute("data-theme")).toBe("dark");
  });

  it("fits a phone's width on every page", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    const { task } = await client.createTask({ name: "on a phone", prompt: "hi", model: ECHO });
    await settled(client, task?.id ?? "");
    for (const [path, name] of [
      ["/", "list"],
      ["/tasks/new", "new-task"],
      [`/tasks/${task?.id}`, "task-detail"],
    ] as const) {
      await page.goto(`${app.url}${path}`);
      await page.getByRole("heading", { level: 1 }).waitFor();
      await page.waitForLoadState("load");
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, `${path} scrolls sideways`).toBe(0);
      await screenshot(page, `phone-${name}`);
    }
  });
});

describe("losing the server", { timeout: 90_000 }, () => {
  let proxy: CuttableProxy;

  beforeAll(async () => {
    const target = new URL(app.url);
    proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port) });
  });
  afterAll(async () => {
    await proxy?.cut();
  });

  it("shows a banner while the server is gone, and clears it by itself when it is back", async () => {
    const { task } = await client.createTask({
      name: "seen before the outage",
      prompt: "hi",
      model: ECHO,
    });
    await settled(client, task?.id ?? "");
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await page.getByTestId("task-row").first().waitFor();
    const banner = page.getByRole("alert").filter({ hasText: "Can't reach the Promptline server" });
    expect(await banner.count()).toBe(0);

    await proxy.cut();
    await banner.waitFor({ timeout: 30_000 });
    // What was loaded stays on screen.
    expect(await page.getByTestId("task-row").count()).toBeGreaterThan(0);
    await expectNoSeriousA11yViolations(page, "the server-lost banner");
    await screenshot(page, "server-lost");

    // A page opened meanwhile says what failed and what to do, in words.
    await page
      .getByTestId("task-row")
      .filter({ hasText: "seen before the outage" })
      .getByRole("link")
      .first()
      .click();
    const notice = page.getByRole("alert").filter({ hasText: "Couldn't load this task" });
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.textContent()).toContain("the page retries by itself");
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
      expect(await notice.count(), "the notice stays while the server is away").toBe(1);
      await expectNoSeriousA11yViolations(page, `a failed load's notice (${scheme})`);
      await screenshot(page, `server-lost-task-${scheme}`);
    }

    // Back: the banner goes, and the task loads without anyone clicking.
    await proxy.restore();
    await banner.waitFor({ state: "detached", timeout: 30_000 });
    await page.getByTestId("task-status").waitFor({ timeout: 30_000 });
    expect(await notice.count()).toBe(0);
    await screenshot(page, "server-back");
  });

  it("says a page's code could not be loaded, not that the app is broken, and reloads", async () => {
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await page.getByRole("heading", { name: "Tasks", level: 1 }).waitFor();
    await proxy.cut();
    try {
      // The dashboard is its own chunk, not fetched yet.
      await page.getByRole("link", { name: "Dashboard" }).click();
      await page.getByRole("heading", { name: "This page couldn't be loaded" }).waitFor();
      expect(await page.getByText("Something broke").count()).toBe(0);
      await expectNoSeriousA11yViolations(page, "a page whose code did not load");
      await screenshot(page, "page-not-loaded");
    } finally {
      await proxy.restore();
    }
    await page.getByRole("button", { name: "Reload" }).click();
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
  });
});
