import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CuttableProxy } from "../../server/test/fault-tools.js";
import { settled } from "../../server/test/task-client.js";
import { checkPageInBothThemes, expectNoSeriousA11yViolations } from "./a11y.js";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ECHO = "simulator/echo";
const ui = browserTestApp({ failureScreenshot: "a11y-failed-test" });

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
    await ui.page.goto(`${ui.app.url}/`);
    await ui.page.getByText("No tasks yet").waitFor();
    await checkPageInBothThemes(ui.page, "a11y-list-empty");

    const { tasks } = await ui.client.batchCreateTasks({
      tasks: [
        { name: "first", prompt: "hello", model: ECHO },
        { name: "second", prompt: '[[sim status=400 message="bad"]] hi', model: ECHO },
      ],
    });
    for (const t of tasks) await settled(ui.client, t.id);
    await ui.page.reload();
    await ui.page.getByTestId("task-row").nth(1).waitFor();
    await checkPageInBothThemes(ui.page, "a11y-list");
  });

  it("the new-task form, including its field errors", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Prompt", { exact: true }).waitFor();
    await ui.page.getByLabel("Model").selectOption(ECHO);
    await checkPageInBothThemes(ui.page, "a11y-new-task");
    await ui.page.getByLabel("Prompt", { exact: true }).fill("too many tokens");
    await ui.page.getByLabel("Max tokens").fill("2000000");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.getByText(/must be from 1 to 1000000/).waitFor();
    await checkPageInBothThemes(ui.page, "a11y-new-task-errors");
  });

  it("a task's detail page, finished and failed, with its lineage", async () => {
    const { tasks } = await ui.client.batchCreateTasks({
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
    for (const t of tasks) await settled(ui.client, t.id);
    const [parent, child] = tasks;
    await ui.page.goto(`${ui.app.url}/tasks/${parent?.id}`);
    await ui.page.getByTestId("task-status").filter({ hasText: "completed" }).waitFor();
    await ui.page.getByTestId("lineage-graph").waitFor();
    await checkPageInBothThemes(ui.page, "a11y-task-detail");

    await ui.page.goto(`${ui.app.url}/tasks/${child?.id}`);
    await ui.page.getByTestId("task-error").waitFor();
    await checkPageInBothThemes(ui.page, "a11y-task-failed");
  });

  it("a task that does not exist, and a page that does not exist", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/00000000-0000-4000-8000-000000000000`);
    await ui.page.getByRole("heading", { level: 1 }).waitFor();
    await checkPageInBothThemes(ui.page, "a11y-task-missing");
    await ui.page.goto(`${ui.app.url}/no/such/page`);
    await ui.page.getByRole("heading", { name: "Page not found" }).waitFor();
    await checkPageInBothThemes(ui.page, "a11y-not-found");
  });

  it("the templates pages and the sign-in page", async () => {
    await ui.page.goto(`${ui.app.url}/templates`);
    await ui.page.getByText("No templates yet").waitFor();
    await checkPageInBothThemes(ui.page, "a11y-templates-empty");
    await ui.page.goto(`${ui.app.url}/templates/new`);
    await ui.page.getByRole("heading", { level: 1 }).waitFor();
    await ui.page.getByLabel("Model").waitFor();
    await checkPageInBothThemes(ui.page, "a11y-template-new");
    await ui.page.goto(`${ui.app.url}/sign-in`);
    const signIn = () => ui.page.getByRole("heading", { name: "Sign in to Promptline" }).waitFor();
    await signIn();
    await checkPageInBothThemes(ui.page, "a11y-sign-in", signIn);
  });

  it("remembers the theme chosen in the header, over the system's", async () => {
    await ui.page.emulateMedia({ colorScheme: "light" });
    await ui.page.goto(`${ui.app.url}/`);
    const html = ui.page.locator("html");
    expect(await html.getAttribute("data-theme")).toBe("light");
    // The radio itself is visually hidden; a person clicks its icon.
    await ui.page.getByTitle("Dark").click();
    expect(await html.getAttribute("data-theme")).toBe("dark");
    await ui.page.reload();
    expect(await html.getAttribute("data-theme")).toBe("dark");
    expect(await ui.page.getByRole("radio", { name: "Dark" }).isChecked()).toBe(true);
    await screenshot(ui.page, "theme-dark-chosen");

    // Back to following the system, which then decides.
    await ui.page.getByTitle("System").click();
    expect(await html.getAttribute("data-theme")).toBe("light");
    await ui.page.emulateMedia({ colorScheme: "dark" });
    await ui.page.locator('html[data-theme="dark"]').waitFor({ state: "attached" });
  });

  it("reaches every control in the header and form by keyboard, each with a visible focus ring", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Prompt", { exact: true }).waitFor();
    const seen: string[] = [];
    for (let i = 0; i < 14; i++) {
      await ui.page.keyboard.press("Tab");
      const focus = await focusIsVisible(ui.page);
      seen.push(`${focus.tag}:${focus.name}`);
      expect(focus.visible, `focus ring on ${focus.tag} "${focus.name}"`).toBe(true);
    }
    const joined = seen.join(" | ");
    expect(joined).toContain("Skip to content");
    expect(joined).toContain("a:New task");
    expect(joined).toContain("input:");
    expect(joined).toContain("textarea:");

    // The theme is a radio group: one Tab stop, arrow keys choose.
    await ui.page.getByRole("radio", { name: "System" }).focus();
    await ui.page.keyboard.press("ArrowRight");
    expect(await ui.page.locator("html").getAttribute("data-theme")).toBe("light");
    await ui.page.keyboard.press("ArrowRight");
    expect(await ui.page.locator("html").getAttribute("data-theme")).toBe("dark");
  });

  it("fits a phone's width on every page", async () => {
    await ui.page.setViewportSize({ width: 375, height: 800 });
    const { task } = await ui.client.createTask({ name: "on a phone", prompt: "hi", model: ECHO });
    await settled(ui.client, task?.id ?? "");
    for (const [path, name] of [
      ["/", "list"],
      ["/tasks/new", "new-task"],
      [`/tasks/${task?.id}`, "task-detail"],
    ] as const) {
      await ui.page.goto(`${ui.app.url}${path}`);
      await ui.page.getByRole("heading", { level: 1 }).waitFor();
      await ui.page.waitForLoadState("load");
      const overflow = await ui.page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, `${path} scrolls sideways`).toBe(0);
      await screenshot(ui.page, `phone-${name}`);
    }
  });
});

describe("losing the server", { timeout: 90_000 }, () => {
  let proxy: CuttableProxy;

  beforeAll(async () => {
    const target = new URL(ui.app.url);
    proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port) });
  });
  afterAll(async () => {
    await proxy?.cut();
  });

  it("shows a banner while the server is gone, and clears it by itself when it is back", async () => {
    const { task } = await ui.client.createTask({
      name: "seen before the outage",
      prompt: "hi",
      model: ECHO,
    });
    await settled(ui.client, task?.id ?? "");
    await ui.page.goto(`http://127.0.0.1:${proxy.port}/`);
    await ui.page.getByTestId("task-row").first().waitFor();
    const banner = ui.page
      .getByRole("alert")
      .filter({ hasText: "Can't reach the Promptline server" });
    expect(await banner.count()).toBe(0);

    await proxy.cut();
    await banner.waitFor({ timeout: 30_000 });
    // What was loaded stays on screen.
    expect(await ui.page.getByTestId("task-row").count()).toBeGreaterThan(0);
    await expectNoSeriousA11yViolations(ui.page, "the server-lost banner");
    await screenshot(ui.page, "server-lost");

    // A page opened meanwhile says what failed and what to do, in words.
    await ui.page
      .getByTestId("task-row")
      .filter({ hasText: "seen before the outage" })
      .getByRole("link")
      .first()
      .click();
    const notice = ui.page.getByRole("alert").filter({ hasText: "Couldn't load this task" });
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.textContent()).toContain("the page retries by itself");
    for (const scheme of ["light", "dark"] as const) {
      await ui.page.emulateMedia({ colorScheme: scheme });
      await ui.page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
      expect(await notice.count(), "the notice stays while the server is away").toBe(1);
      await expectNoSeriousA11yViolations(ui.page, `a failed load's notice (${scheme})`);
      await screenshot(ui.page, `server-lost-task-${scheme}`);
    }

    // Back: the banner goes, and the task loads without anyone clicking.
    await proxy.restore();
    await banner.waitFor({ state: "detached", timeout: 30_000 });
    await ui.page.getByTestId("task-status").waitFor({ timeout: 30_000 });
    expect(await notice.count()).toBe(0);
    await screenshot(ui.page, "server-back");
  });

  it("says a page's code could not be loaded, not that the app is broken, and reloads", async () => {
    await ui.page.goto(`http://127.0.0.1:${proxy.port}/`);
    await ui.page.getByRole("heading", { name: "Tasks", level: 1 }).waitFor();
    await proxy.cut();
    try {
      // The dashboard is its own chunk, not fetched yet.
      await ui.page.getByRole("link", { name: "Dashboard" }).click();
      await ui.page.getByRole("heading", { name: "This page couldn't be loaded" }).waitFor();
      expect(await ui.page.getByText("Something broke").count()).toBe(0);
      await expectNoSeriousA11yViolations(ui.page, "a page whose code did not load");
      await screenshot(ui.page, "page-not-loaded");
    } finally {
      await proxy.restore();
    }
    await ui.page.getByRole("button", { name: "Reload" }).click();
    await ui.page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
  });
});
