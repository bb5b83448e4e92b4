import { randomUUID } from "node:crypto";
import { type Client, createClient } from "@connectrpc/connect";
// Node has fetch: the browser transport works here, and web has no connect-node.
import { createConnectTransport } from "@connectrpc/connect-web";
import { TaskStatus, TemplateService } from "@promptline/proto";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../server/test/harness.js";
import { connectClient, settled, type TaskClient } from "../../server/test/task-client.js";
import { checkPageInBothThemes, expectNoSeriousA11yViolations } from "./a11y.js";
import { launchChromium, screenshot } from "./browser.js";

const ECHO = "simulator/echo";
let app: TestApp;
let tasks: TaskClient;
let templates: Client<typeof TemplateService>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
  tasks = connectClient(app.url);
  templates = createClient(TemplateService, createConnectTransport({ baseUrl: app.url }));
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
    await screenshot(page, "templates-failed-test");
  }
  await page.close();
});

/** A stored template for tests that start from one; names are unique per call. */
async function storedTemplate(name = `greeting ${randomUUID().slice(0, 6)}`) {
  const { template } = await templates.createTemplate({
    name,
    description: "Greets someone",
    prompt: "Say hello to {{vars.who}} in {{vars.language}}",
    model: ECHO,
    params: { temperature: 0.4 },
    variables: [
      { name: "who", description: "Whom to greet" },
      { name: "language", defaultValue: "English" },
    ],
  });
  if (template === undefined) throw new Error("no template");
  return template;
}

function taskStatus(p: Page, word: string) {
  return p.getByTestId("task-status").filter({ hasText: word });
}

describe("templates in Chromium", { timeout: 60_000 }, () => {
  // First: the database has no templates yet.
  it("says what to do when there are no templates", async () => {
    await page.goto(`${app.url}/templates`);
    await page.getByRole("heading", { name: "No templates yet" }).waitFor();
    await checkPageInBothThemes(page, "templates-empty");
    await page.getByRole("link", { name: "Create a template" }).click();
    await page.waitForURL("**/templates/new");
  });

  it("creates a template with a live preview, runs it, and the task completes", async () => {
    await page.goto(`${app.url}/templates/new`);
    await page.locator("#template-name").fill("Summary for an audience");
    await page.locator("#template-description").fill("Summarises a text for a reader");
    await page.locator("#template-prompt").fill("Summarise {{vars.text}} for {{ vars.audience }}");
    // The variables are found in the prompt as it is typed.
    await expect
      .poll(() => page.getByTestId("template-variable").allTextContents())
      .toEqual([expect.stringContaining("text"), expect.stringContaining("audience")]);
    await page.locator("#template-var-audience-default").fill("engineers");
    await page.locator("#template-model").selectOption(ECHO);
    await page.locator("#task-temperature").fill("0.2");

    // No value and no default: the preview names the variable.
    const why = page.getByRole("status", { name: "Why the preview can't render" });
    await expect.poll(() => why.textContent()).toMatch(/vars\.text: is required/);
    await page.locator("#template-sample-text").fill("RFC 9110");
    await expect
      .poll(() => page.getByTestId("template-preview").textContent())
      .toBe("Summarise RFC 9110 for engineers");
    await checkPageInBothThemes(page, "template-new-preview");

    await page.getByRole("button", { name: "Create template" }).click();
    await page.waitForURL(/\/templates\/[0-9a-f-]{36}$/);
    await page.getByRole("heading", { level: 1, name: "Summary for an audience" }).waitFor();
    const id = page.url().split("/").at(-1) ?? "";
    const { template } = await templates.getTemplate({ id });
    expect(template?.variables.map((v) => [v.name, v.defaultValue])).toEqual([
      ["text", undefined],
      ["audience", "engineers"],
    ]);
    expect(template?.params?.temperature).toBe(0.2);
    await checkPageInBothThemes(page, "template-detail");

    // Run: an empty required variable is named at its input.
    await page.getByRole("button", { name: "Run template" }).click();
    await expect
      .poll(() => page.locator("#template-run-text-error").textContent())
      .toMatch(/is required/);
    await page.locator("#template-run-text").fill("the HTTP spec");
    await page.getByRole("button", { name: "Run template" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskId = page.url().split("/").at(-1) ?? "";
    await taskStatus(page, "completed").waitFor({ timeout: 20_000 });
    expect(await page.getByTestId("task-output").textContent()).toContain(
      "Summarise the HTTP spec for engineers",
    );
    const task = await settled(tasks, taskId);
    expect(task.status).toBe(TaskStatus.COMPLETED);
    expect(task.metadata).toEqual({ template_id: id });
    // The task's page links back to the template it came from.
    await page.getByRole("link", { name: "Summary for an audience" }).click();
    await page.waitForURL(`**/templates/${id}`);
  });

  it("edits a template, and refuses to overwrite someone else's change", async () => {
    const template = await storedTemplate();
    await page.goto(`${app.url}/templates/${template.id}`);
    const description = page.locator("#template-description");
    await description.fill("Greets anyone, politely");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const saved = (await templates.getTemplate({ id: template.id })).template;
    expect(saved?.description).toBe("Greets anyone, politely");
    expect(saved?.prompt).toBe(template.prompt);

    // Someone else changes it; this page's next save must not overwrite that.
    await templates.updateTemplate({
      template: { id: template.id, description: "changed elsewhere" },
      updateMask: { paths: ["description"] },
    });
    await description.fill("my edit");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("The template was not saved").waitFor();
    expect(await page.getByRole("alert").textContent()).toMatch(/changed since/);
    await screenshot(page, "template-edit-conflict");
    expect((await templates.getTemplate({ id: template.id })).template?.description).toBe(
      "changed elsewhere",
    );
  });

  it("shows a server error at the field it names", async () => {
    const template = await storedTemplate();
    await page.goto(`${app.url}/templates/new`);
    await page.locator("#template-name").fill(template.name);
    await page.locator("#template-prompt").fill("Hello");
    await page.getByRole("button", { name: "Create template" }).click();
    await expect
      .poll(() => page.locator("#template-name-error").textContent())
      .toMatch(/already exists/);
    // Focus moves to the field the server named, as with the create-task form.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("template-name");
  });

  it("deletes a template after a confirmation", async () => {
    const template = await storedTemplate();
    await page.goto(`${app.url}/templates/${template.id}`);
    // Local mode: the built-in admin made it, and may change it.
    await page.getByTestId("template-creator").filter({ hasText: "Created by local" }).waitFor();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: `Delete “${template.name}”?` });
    await dialog.waitFor();
    // The modal keeps the theme switch out of reach: checked in the theme it opened in.
    await expectNoSeriousA11yViolations(page, "template-delete-confirm");
    await screenshot(page, "template-delete-confirm");
    await dialog.getByRole("button", { name: "Delete template" }).click();
    await page.waitForURL(/\/templates$/);
    await page.getByRole("heading", { level: 1, name: "Templates" }).waitFor();
    await expect
      .poll(() => page.getByTestId("template-row").allTextContents())
      .not.toContainEqual(expect.stringContaining(template.name));
    const gone = await templates.getTemplate({ id: template.id }).then(
      () => "found",
      () => "gone",
    );
    expect(gone).toBe("gone");
  });

  it("lists and searches templates by name", async () => {
    const tag = randomUUID().slice(0, 6);
    await storedTemplate(`alpha ${tag}`);
    await storedTemplate(`beta ${tag}`);
    await page.goto(`${app.url}/templates`);
    await page.getByTestId("template-row").first().waitFor();
    await checkPageInBothThemes(page, "templates-list");
    await page.getByLabel("Search templates by name").fill(`beta ${tag}`);
    await expect
      .poll(() => page.getByTestId("template-row").allTextContents())
      .toEqual([expect.stringContaining(`beta ${tag}`)]);
    expect(page.url()).toContain("?q=");
  });

  it("fills the new-task form from a template picked there", async () => {
    const template = await storedTemplate();
    await page.goto(`${app.url}/tasks/new`);
    await page
      .getByLabel("Start from a template")
      .selectOption({ label: `${template.name} · who, language` });
    expect(await page.getByLabel("Prompt", { exact: true }).inputValue()).toBe(template.prompt);
    expect(await page.getByLabel("Model").inputValue()).toBe(ECHO);
    expect(await page.getByLabel("Temperature").inputValue()).toBe("0.4");
    // A row per variable, its default filled in, the others to fill.
    const vars = page.getByTestId("task-vars");
    expect(await vars.getAttribute("open")).not.toBeNull();
    const values = vars.getByRole("textbox", { name: /value/i });
    await expect.poll(() => values.count()).toBe(2);
    expect(await values.nth(1).inputValue()).toBe("English");
    await values.nth(0).fill("Ada");
    await screenshot(page, "task-new-from-template");
    await page.getByRole("button", { name: "Create task" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await taskStatus(page, "completed").waitFor({ timeout: 20_000 });
    expect(await page.getByTestId("task-output").textContent()).toContain(
      "Say hello to Ada in English",
    );
  });
});
