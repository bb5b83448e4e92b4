import { TaskStatus } from "@promptline/proto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { settled } from "../../server/test/task-client.js";
import { screenshot, screenshotOf } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ECHO = "simulator/echo";
const ui = browserTestApp({ failureScreenshot: "chain-failed-test" });

/** The graph's node links, each named "<title>, <status>, <model>". */
function graphNodes(p: Page) {
  return p.getByTestId("lineage-node");
}

async function nodeLabels(p: Page): Promise<string[]> {
  return graphNodes(p).evaluateAll((links) => links.map((l) => l.getAttribute("aria-label") ?? ""));
}

function status(p: Page, word: string) {
  return p.getByTestId("task-status").filter({ hasText: word });
}

// Each test waits for several tasks in turn; a busy machine needs more than the default.
describe("chains in Chromium", { timeout: 60_000 }, () => {
  it("shows a three-step chain as a live graph, and a node opens its task", async () => {
    const { tasks } = await ui.client.batchCreateTasks({
      tasks: [
        // Slow, so the page most likely sees the chain before it has run.
        { ref: "a", name: "step one", prompt: "[[sim ttft=3000]] one", model: ECHO },
        {
          ref: "b",
          parentRef: "a",
          name: "step two",
          prompt: "two {{parent.output}}",
          model: ECHO,
        },
        { parentRef: "b", name: "step three", prompt: "three {{parent.output}}", model: ECHO },
      ],
    });
    const [first, , last] = tasks;
    await ui.page.goto(`${ui.app.url}/tasks/${last?.id}`);

    await expect.poll(() => graphNodes(ui.page).count(), { timeout: 10_000 }).toBe(3);
    if ((await nodeLabels(ui.page)).some((l) => !l.includes(", completed,"))) {
      await screenshot(ui.page, "chain-graph-running");
    }
    await expect
      .poll(
        async () => (await nodeLabels(ui.page)).filter((l) => l.includes(", completed,")).length,
        {
          timeout: 20_000,
        },
      )
      .toBe(3);
    await status(ui.page, "completed").waitFor({ timeout: 10_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toBe(
      "Echo: three Echo: two Echo: one",
    );
    expect(await ui.page.getByTestId("rendered-prompt").textContent()).toBe(
      "three Echo: two Echo: one",
    );
    expect(await nodeLabels(ui.page)).toEqual([
      `step one, completed, ${ECHO}`,
      `step two, completed, ${ECHO}`,
      `step three, completed, ${ECHO}, this task`,
    ]);
    // The same links in words, and the chain's totals and table.
    expect(await ui.page.getByTestId("lineage-upstream").textContent()).toContain("step two");
    expect(await ui.page.getByTestId("lineage-downstream").textContent()).toContain("Nothing yet");
    expect(await ui.page.getByTestId("chain-row").count()).toBe(3);
    expect(await ui.page.getByTestId("chain-totals").textContent()).toMatch(/Tasks3/);
    await ui.page.getByTestId("lineage-graph").scrollIntoViewIfNeeded();
    await screenshot(ui.page, "chain-graph");
    // Small and dark screens get the same graph, and the links in words.
    await ui.page.setViewportSize({ width: 390, height: 844 });
    await ui.page.emulateMedia({ colorScheme: "dark" });
    const lineagePanel = ui.page.getByRole("region", { name: "Lineage" });
    await expect.poll(() => graphNodes(ui.page).first().isVisible()).toBe(true);
    await screenshotOf(lineagePanel, "chain-graph-mobile-dark");
    await ui.page.setViewportSize({ width: 1280, height: 900 });
    await ui.page.emulateMedia({ colorScheme: "light" });

    // A click on a node opens that task; so does Enter on a focused one.
    await graphNodes(ui.page).filter({ hasText: "step one" }).click();
    await ui.page.waitForURL(`**/tasks/${first?.id}`);
    await ui.page.getByRole("heading", { level: 1, name: "step one" }).waitFor();
    const two = ui.page.getByRole("link", { name: `step two, completed, ${ECHO}` });
    await two.waitFor();
    await two.focus();
    await ui.page.keyboard.press("Enter");
    await ui.page.getByRole("heading", { level: 1, name: "step two" }).waitFor();
    expect(await ui.page.getByTestId("lineage-upstream").textContent()).toContain("step one");
    expect(await ui.page.getByTestId("lineage-downstream").textContent()).toContain("step three");
  });

  it("draws the graph on an open page when tasks are made from it", async () => {
    const { task: root } = await ui.client.createTask({
      name: "the root",
      prompt: "root",
      model: ECHO,
    });
    await ui.page.goto(`${ui.app.url}/tasks/${root?.id}`);
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    expect(await ui.page.getByTestId("lineage-graph").count()).toBe(0);

    await ui.client.batchCreateTasks({
      tasks: [
        {
          ref: "kid",
          parentTaskId: root?.id,
          name: "the kid",
          prompt: "[[sim ttft=500]] kid {{parent.output}}",
          model: ECHO,
        },
        { parentRef: "kid", name: "the grandkid", prompt: "{{parent.output}}", model: ECHO },
      ],
    });
    // No reload: the open page learns of its new children and follows them to the end.
    await expect.poll(() => graphNodes(ui.page).count(), { timeout: 10_000 }).toBe(3);
    await expect
      .poll(
        async () => (await nodeLabels(ui.page)).filter((l) => l.includes(", completed,")).length,
        {
          timeout: 20_000,
        },
      )
      .toBe(3);
    expect(await ui.page.getByTestId("lineage-downstream").textContent()).toContain("the kid");
  });

  it("draws the graph when a task depending only by depends_on appears, and lists dependencies on the task page", async () => {
    const { task: upstream } = await ui.client.createTask({
      name: "the upstream",
      prompt: "up",
      model: ECHO,
    });
    // Its lineage stream open first, so the page has to find the new task by itself.
    const watching = ui.page.waitForResponse(/WatchTasks/);
    await ui.page.goto(`${ui.app.url}/tasks/${upstream?.id}`);
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    await watching;
    // Past the refetch the stream's connection makes (coalesced over 250 ms).
    await ui.page.waitForTimeout(1_000);
    expect(await ui.page.getByTestId("lineage-graph").count()).toBe(0);

    // No parent, so no chain: only a refetch on its creation can find it.
    const { task: waiter } = await ui.client.createTask({
      name: "the waiter",
      prompt: "got {{deps.src.output}}",
      model: ECHO,
      dependsOn: [{ target: { case: "taskId", value: upstream?.id ?? "" }, name: "src" }],
    });
    expect(waiter?.chainId).toBe("");
    await expect.poll(() => graphNodes(ui.page).count(), { timeout: 10_000 }).toBe(2);
    await expect
      .poll(() => ui.page.getByTestId("lineage-downstream").textContent(), { timeout: 10_000 })
      .toContain("the waiter");

    await ui.page.goto(`${ui.app.url}/tasks/${waiter?.id}`);
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    const deps = ui.page.getByTestId("depends-on");
    await expect
      .poll(() => deps.textContent(), { timeout: 10_000 })
      .toMatch(/the upstream\s*src\s*completed/);
    await deps.getByRole("link", { name: "the upstream" }).click();
    await ui.page.waitForURL((url) => url.pathname.endsWith(upstream?.id ?? "-"));
  });

  it("uses a completed task as the parent of a new one, its output passed on", async () => {
    const { task: source } = await ui.client.createTask({
      name: "the source",
      prompt: "hello chain",
      model: ECHO,
      params: { temperature: 0.3 },
    });
    await settled(ui.client, source?.id ?? "");
    await ui.page.goto(`${ui.app.url}/tasks/${source?.id}`);
    await ui.page.getByRole("link", { name: "Use as new task" }).click();
    await ui.page.waitForURL(`**/tasks/new?parent=${source?.id}`);

    const prompt = ui.page.getByLabel("Prompt", { exact: true });
    await expect.poll(() => prompt.inputValue()).toBe("{{parent.output}}");
    expect(await ui.page.getByTestId("made-from").textContent()).toContain("the source");
    expect(await ui.page.getByLabel("Temperature").inputValue()).toBe("0.3");
    expect(await ui.page.getByLabel("Model").inputValue()).toBe(ECHO);
    // Pasting puts the output itself in the prompt; the reference comes back on request.
    await ui.page.getByLabel("Pasted into the prompt now, to edit").check();
    expect(await prompt.inputValue()).toBe("Echo: hello chain");
    await ui.page.getByLabel(/As \{\{parent\.output\}\}/).check();
    expect(await prompt.inputValue()).toBe("{{parent.output}}");
    await prompt.fill("Shorten: {{parent.output}}");
    await ui.page.getByLabel("Name").fill("the child");
    await screenshot(ui.page, "chain-use-as-new-task");

    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toBe(
      "Echo: Shorten: Echo: hello chain",
    );
    await graphNodes(ui.page).nth(1).waitFor();
    expect(await ui.page.getByTestId("lineage-upstream").textContent()).toContain("the source");
    await screenshot(ui.page, "chain-child-done");
  });

  it("duplicates a task, and shows dependency errors next to the row they name", async () => {
    const { task: source } = await ui.client.createTask({
      name: "to copy",
      prompt: "About {{vars.topic}}",
      model: ECHO,
      vars: { topic: "otters" },
    });
    await ui.page.goto(`${ui.app.url}/tasks/${source?.id}`);
    await ui.page.getByRole("link", { name: "Duplicate" }).click();
    await ui.page.waitForURL(`**/tasks/new?from=${source?.id}`);
    const prompt = ui.page.getByLabel("Prompt", { exact: true });
    await expect.poll(() => prompt.inputValue()).toBe("About {{vars.topic}}");
    expect(await ui.page.getByLabel("Variable 1: value").inputValue()).toBe("otters");
    expect(await ui.page.getByTestId("made-from").count()).toBe(0);

    await prompt.fill("{{deps.notes.output}} about {{vars.topic}}");
    await ui.page.getByText("Wait for other tasks").click();
    await ui.page.getByRole("button", { name: "Add a task" }).click();
    const missing = "0190a5c8-0000-7000-8000-000000000000";
    await ui.page.getByLabel("Task 1: id or link").fill(`${ui.app.url}/tasks/${missing}`);
    await ui.page.getByLabel("Task 1: name (optional)").fill("notes");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    const rowError = ui.page.locator(`[id$="-task-id-error"]`);
    await rowError.filter({ hasText: `task ${missing} does not exist` }).waitFor();
    // The control with the error takes the focus (wait for it: typing elsewhere first would lose it).
    const taskId = ui.page.getByLabel("Task 1: id or link");
    await expect.poll(() => taskId.evaluate((el) => el === document.activeElement)).toBe(true);
    await screenshot(ui.page, "chain-dependency-error");

    // A reference to a dependency that has no name is the prompt's problem.
    await ui.page.getByLabel("Task 1: id or link").fill(source?.id ?? "");
    await ui.page.getByLabel("Task 1: name (optional)").fill("");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page
      .getByText("uses {{deps.notes.output}} but no dependency is named notes")
      .waitFor();
    expect(await prompt.getAttribute("aria-invalid")).toBe("true");
    await expect.poll(() => prompt.evaluate((el) => el === document.activeElement)).toBe(true);

    await ui.page.getByLabel("Task 1: name (optional)").fill("notes");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toBe(
      "Echo: Echo: About otters about otters",
    );
    await ui.page.getByTestId("lineage-graph").waitFor();
    expect(await ui.page.getByTestId("lineage-upstream").textContent()).toContain(
      "waits for it as notes",
    );
    await screenshotOf(ui.page.getByRole("region", { name: "Lineage" }), "chain-dependency-graph");
  });

  it("shows a failed middle step cancelling the last, and retries the chain from it", async () => {
    const key = crypto.randomUUID();
    const { tasks } = await ui.client.batchCreateTasks({
      tasks: [
        { ref: "a", name: "first step", prompt: "first", model: ECHO },
        {
          ref: "b",
          parentRef: "a",
          name: "middle step",
          // Fails once (400, not retried), then succeeds when retried.
          prompt: `[[sim status=400 warmup=1 key=${key}]] middle {{parent.output}}`,
          model: ECHO,
        },
        { parentRef: "b", name: "last step", prompt: "last {{parent.output}}", model: ECHO },
      ],
    });
    const last = tasks[2];
    await ui.page.goto(`${ui.app.url}/tasks/${last?.id}`);
    await status(ui.page, "cancelled").waitFor({ timeout: 15_000 });
    const error = ui.page.getByTestId("task-error");
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).toContain("UPSTREAM_FAILED");
    await expect
      .poll(async () => (await nodeLabels(ui.page)).map((l) => l.split(", ")[1]), {
        timeout: 10_000,
      })
      .toEqual(["completed", "failed", "cancelled"]);
    await screenshot(ui.page, "chain-upstream-failed");

    await ui.page
      .getByRole("button", { name: "Retry from here: middle step" })
      .click({ timeout: 10_000 });
    await status(ui.page, "completed").waitFor({ timeout: 20_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toBe(
      "Echo: last Echo: middle Echo: first",
    );
    await expect
      .poll(async () => (await nodeLabels(ui.page)).map((l) => l.split(", ")[1]), {
        timeout: 10_000,
      })
      .toEqual(["completed", "completed", "completed"]);
    await screenshot(ui.page, "chain-retried");
  });

  it("cancels a whole chain after asking, and re-runs a step with changes", async () => {
    const { tasks } = await ui.client.batchCreateTasks({
      tasks: [
        { ref: "a", name: "quick", prompt: "quick", model: ECHO },
        {
          ref: "b",
          parentRef: "a",
          name: "slow",
          prompt: "[[sim ttft=20000]] slow {{parent.output}}",
          model: ECHO,
        },
        { parentRef: "b", name: "after slow", prompt: "after {{parent.output}}", model: ECHO },
      ],
    });
    const slow = tasks[1];
    await ui.page.goto(`${ui.app.url}/tasks/${slow?.id}`);
    await status(ui.page, "running").waitFor({ timeout: 15_000 });
    await ui.page.getByRole("button", { name: "Cancel chain" }).click();
    const dialog = ui.page.getByRole("dialog", { name: "Cancel the whole chain?" });
    await dialog.waitFor();
    await screenshot(ui.page, "chain-cancel-confirm");
    await dialog.getByRole("button", { name: "Cancel chain" }).click();
    await status(ui.page, "cancelled").waitFor({ timeout: 10_000 });
    await expect
      .poll(async () => (await nodeLabels(ui.page)).map((l) => l.split(", ")[1]), {
        timeout: 10_000,
      })
      .toEqual(["completed", "cancelled", "cancelled"]);

    await ui.page.getByRole("button", { name: "Re-run with changes: slow" }).click();
    const rerun = ui.page.getByRole("dialog", { name: /Re-run “slow” with changes/ });
    await rerun.getByLabel("Prompt").fill("fast now {{parent.output}}");
    await screenshot(ui.page, "chain-rerun-dialog");
    await rerun.getByRole("button", { name: "Re-run" }).click();
    await ui.page.waitForURL((url) => !url.pathname.endsWith(slow?.id ?? ""));
    await status(ui.page, "completed").waitFor({ timeout: 15_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toBe(
      "Echo: fast now Echo: quick",
    );
    const branch = await ui.client.getTask({ id: ui.page.url().split("/").at(-1) ?? "" });
    expect(branch.task?.parentTaskId).toBe(tasks[0]?.id);
    expect((await ui.client.getTask({ id: slow?.id ?? "" })).task?.status).toBe(
      TaskStatus.CANCELLED,
    );
  });
});
