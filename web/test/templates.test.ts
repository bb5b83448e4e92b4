import { randomUUID } from "node:crypto";
import { type Client, createClient } from "@connectrpc/connect";
// Node has fetch: the browser transport works here, and web has no connect-node.
import { createConnectTransport } from "@connectrpc/connect-web";
import { TaskStatus, TemplateService } from "@promptline/proto";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { settled } from "../../server/test/task-client.js";
import { checkPageInBothThemes, expectNoSeriousA11yViolations } from "./a11y.js";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ECHO = "simulator/echo";
const ui = browserTestApp({ failureScreenshot: "templates-failed-test" });
let templates: Client<typeof TemplateService>;

beforeAll(() => {
  templates = createClient(TemplateService, createConnectTransport({ baseUrl: ui.app.url }));
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
    await ui.page.goto(`${ui.app.url}/templates`);
    await ui.page.getByRole("heading", { name: "No templates yet" }).waitFor();
    await checkPageInBothThemes(ui.page, "templates-empty");
    await ui.page.getByRole("link", { name: "Create a template" }).click();
    await ui.page.waitForURL("**/templates/new");
  });

  it("creates a template with a live preview, runs it, and the task completes", async () => {
    await ui.page.goto(`${ui.app.url}/templates/new`);
    await ui.page.locator("#template-name").fill("Summary for an audience");
    await ui.page.locator("#template-description").fill("Summarises a text for a reader");
    await ui.page
      .locator("#template-prompt")
      .fill("Summarise {{vars.text}} for {{ vars.audience }}");
    // The variables are found in the prompt as it is typed.
    await expect
      .poll(() => ui.page.getByTestId("template-variable").allTextContents())
      .toEqual([expect.stringContaining("text"), expect.stringContaining("audience")]);
    await ui.page.locator("#template-var-audience-default").fill("engineers");
    await ui.page.locator("#template-model").selectOption(ECHO);
    await ui.page.locator("#task-temperature").fill("0.2");

    // No value and no default: the preview names the variable.
    const why = ui.page.getByRole("status", { name: "Why the preview can't render" });
    await expect.poll(() => why.textContent()).toMatch(/vars\.text: is required/);
    await ui.page.locator("#template-sample-text").fill("RFC 9110");
    await expect
      .poll(() => ui.page.getByTestId("template-preview").textContent())
      .toBe("Summarise RFC 9110 for engineers");
    await checkPageInBothThemes(ui.page, "template-new-preview");

    await ui.page.getByRole("button", { name: "Create template" }).click();
    await ui.page.waitForURL(/\/templates\/[0-9a-f-]{36}$/);
    await ui.page.getByRole("heading", { level: 1, name: "Summary for an audience" }).waitFor();
    const id = ui.page.url().split("/").at(-1) ?? "";
    const { template } = await templates.getTemplate({ id });
    expect(template?.variables.map((v) => [v.name, v.defaultValue])).toEqual([
      ["text", undefined],
      ["audience", "engineers"],
    ]);
    expect(template?.params?.temperature).toBe(0.2);
    await checkPageInBothThemes(ui.page, "template-detail");

    // Run: an empty required variable is named at its input.
    await ui.page.getByRole("button", { name: "Run template" }).click();
    await expect
      .poll(() => ui.page.locator("#template-run-text-error").textContent())
      .toMatch(/is required/);
    await ui.page.locator("#template-run-text").fill("the HTTP spec");
    await ui.page.getByRole("button", { name: "Run template" }).click();
    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskId = ui.page.url().split("/").at(-1) ?? "";
    await taskStatus(ui.page, "completed").waitFor({ timeout: 20_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toContain(
      "Summarise the HTTP spec for engineers",
    );
    const task = await settled(ui.client, taskId);
    expect(task.status).toBe(TaskStatus.COMPLETED);
    expect(task.metadata).toEqual({ template_id: id });
    // The task's page links back to the template it came from.
    await ui.page.getByRole("link", { name: "Summary for an audience" }).click();
    await ui.page.waitForURL(`**/templates/${id}`);
  });

  it("edits a template, and refuses to overwrite someone else's change", async () => {
    const template = await storedTemplate();
    await ui.page.goto(`${ui.app.url}/templates/${template.id}`);
    const description = ui.page.locator("#template-description");
    await description.fill("Greets anyone, politely");
    await ui.page.getByRole("button", { name: "Save changes" }).click();
    await ui.page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const saved = (await templates.getTemplate({ id: template.id })).template;
    expect(saved?.description).toBe("Greets anyone, politely");
    expect(saved?.prompt).toBe(template.prompt);

    // Someone else changes it; this page's next save must not overwrite that.
    await templates.updateTemplate({
      template: { id: template.id, description: "changed elsewhere" },
      updateMask: { paths: ["description"] },
    });
    await description.fill("my edit");
    await ui.page.getByRole("button", { name: "Save changes" }).click();
    await ui.page.getByText("The template was not saved").waitFor();
    expect(await ui.page.getByRole("alert").textContent()).toMatch(/changed since/);
    await screenshot(ui.page, "template-edit-conflict");
    expect((await templates.getTemplate({ id: template.id })).template?.description).toBe(
      "changed elsewhere",
    );
  });

  it("shows a server error at the field it names", async () => {
    const template = await storedTemplate();
    await ui.page.goto(`${ui.app.url}/templates/new`);
    await ui.page.locator("#template-name").fill(template.name);
    await ui.page.locator("#template-prompt").fill("Hello");
    await ui.page.getByRole("button", { name: "Create template" }).click();
    await expect
      .poll(() => ui.page.locator("#template-name-error").textContent())
      .toMatch(/already exists/);
    // Focus moves to the field the server named, as with the create-task form.
    await expect
      .poll(() => ui.page.evaluate(() => document.activeElement?.id))
      .toBe("template-name");
  });

  it("deletes a template after a confirmation", async () => {
    const template = await storedTemplate();
    await ui.page.goto(`${ui.app.url}/templates/${template.id}`);
    // Local mode: the built-in admin made it, and may change it.
    await ui.page.getByTestId("template-creator").filter({ hasText: "Created by local" }).waitFor();
    await ui.page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = ui.page.getByRole("dialog", { name: `Delete “${template.name}”?` });
    await dialog.waitFor();
    // The modal keeps the theme switch out of reach: checked in the theme it opened in.
    await expectNoSeriousA11yViolations(ui.page, "template-delete-confirm");
    await screenshot(ui.page, "template-delete-confirm");
    await dialog.getByRole("button", { name: "Delete template" }).click();
    await ui.page.waitForURL(/\/templates$/);
    await ui.page.getByRole("heading", { level: 1, name: "Templates" }).waitFor();
    await expect
      .poll(() => ui.page.getByTestId("template-row").allTextContents())
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
    await ui.page.goto(`${ui.app.url}/templates`);
    await ui.page.getByTestId("template-row").first().waitFor();
    await checkPageInBothThemes(ui.page, "templates-list");
    await ui.page.getByLabel("Search templates by name").fill(`beta ${tag}`);
    await expect
      .poll(() => ui.page.getByTestId("template-row").allTextContents())
      .toEqual([expect.stringContaining(`beta ${tag}`)]);
    expect(ui.page.url()).toContain("?q=");
  });

  it("fills the new-task form from a template picked there", async () => {
    const template = await storedTemplate();
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page
      .getByLabel("Start from a template")
      .selectOption({ label: `${template.name} · who, language` });
    expect(await ui.page.getByLabel("Prompt", { exact: true }).inputValue()).toBe(template.prompt);
    expect(await ui.page.getByLabel("Model").inputValue()).toBe(ECHO);
    expect(await ui.page.getByLabel("Temperature").inputValue()).toBe("0.4");
    // A row per variable, its default filled in, the others to fill.
    const vars = ui.page.getByTestId("task-vars");
    expect(await vars.getAttribute("open")).not.toBeNull();
    const values = vars.getByRole("textbox", { name: /value/i });
    await expect.poll(() => values.count()).toBe(2);
    expect(await values.nth(1).inputValue()).toBe("English");
    await values.nth(0).fill("Ada");
    await screenshot(ui.page, "task-new-from-template");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await taskStatus(ui.page, "completed").waitFor({ timeout: 20_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toContain(
      "Say hello to Ada in English",
    );
    // Like a run, the task records the template it was made from and links back.
    await ui.page.getByRole("link", { name: template.name }).click();
    await ui.page.waitForURL(`**/templates/${template.id}`);
  });
});
