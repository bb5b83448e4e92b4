import type { Page, Request } from "playwright-core";
import { describe, expect, it } from "vitest";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ui = browserTestApp({ context: {} });

/** Calls a TaskService method the way the web UI does (Connect, JSON). */
async function rpc<T>(method: string, body: unknown): Promise<T> {
  const res = await fetch(`${ui.app.url}/promptline.v1.TaskService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function createTask(name: string, prompt: string, model = "simulator/lorem") {
  const { task } = await rpc<{ task: { id: string } }>("CreateTask", { name, prompt, model });
  return task.id;
}

/** The status chip and the output, read in one go so they belong to the same moment. */
function readDetail(p: Page): Promise<{ status: string; output: string; mode: string }> {
  return p.evaluate(() => {
    const text = (testId: string) =>
      document.querySelector(`[data-testid="${testId}"]`)?.textContent ?? "";
    const mode = document.querySelector('[data-testid="live-mode"]')?.getAttribute("data-mode");
    return { status: text("task-status"), output: text("task-output"), mode: mode ?? "" };
  });
}

// About 3 s of output: long enough to be seen arriving in pieces.
const SLOW_LOREM = "[[sim ttft=100 tps=20 tokens=60]] write at length";

describe("web UI in Chromium", () => {
  it("creates a task in the form and sees the simulator's output appear", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Name").fill("from the browser");
    await ui.page.getByLabel("Prompt", { exact: true }).fill("Hello from Chromium");
    await ui.page.getByLabel("Model").selectOption("simulator/echo");
    await expect
      .poll(() =>
        ui.page.getByText("No NVIDIA_API_KEY set: tasks run on the built-in simulator").count(),
      )
      .toBe(1);
    await screenshot(ui.page, "create-task");
    await ui.page.getByRole("button", { name: "Create task" }).click();

    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await ui.page
      .getByTestId("task-status")
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 15_000 });
    const output = await ui.page.getByTestId("task-output").textContent();
    expect(output).toContain("Hello from Chromium");
    await screenshot(ui.page, "task-detail");

    await ui.page.getByRole("link", { name: "Tasks", exact: true }).click();
    const row = ui.page.getByTestId("task-row").filter({ hasText: "from the browser" });
    await row.waitFor();
    expect(await row.textContent()).toContain("completed");
    await screenshot(ui.page, "task-list");
  });

  it("shows the server's field error under the field it names", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Prompt", { exact: true }).fill("bad temperature");
    await ui.page.getByLabel("Model").selectOption("simulator/echo");
    await ui.page.getByLabel("Max tokens").fill("2000000");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.getByText(/must be from 1 to 1000000/).waitFor();
    expect(ui.page.url()).toMatch(/\/tasks\/new$/);
  });

  it("shows a failed task's provider error", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page
      .getByLabel("Prompt", { exact: true })
      .fill('[[sim status=401 message="invalid api key"]] hi');
    await ui.page.getByLabel("Model").selectOption("simulator/echo");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page
      .getByTestId("task-status")
      .filter({ hasText: "failed" })
      .waitFor({ timeout: 15_000 });
    const error = await ui.page.getByTestId("task-error").textContent();
    expect(error).toContain("PROVIDER_UNAUTHORIZED");
    expect(error).toContain("invalid api key");
    await screenshot(ui.page, "task-failed");
  });

  it("shows a task's output arriving in pieces while it runs", async () => {
    const id = await createTask("streams slowly", SLOW_LOREM);
    await ui.page.goto(`${ui.app.url}/tasks/${id}`);

    // Every distinct output seen while the chip said running, in order.
    const partials: string[] = [];
    await expect
      .poll(
        async () => {
          const now = await readDetail(ui.page);
          if (now.status === "running" && now.output !== "" && now.output !== partials.at(-1)) {
            partials.push(now.output);
            if (partials.length === 2) await screenshot(ui.page, "task-streaming");
          }
          return partials.length;
        },
        { timeout: 15_000, interval: 50 },
      )
      .toBeGreaterThanOrEqual(3);
    expect((await readDetail(ui.page)).mode).toBe("live");
    expect(await ui.page.getByTestId("live-mode").textContent()).toContain("Live");

    await ui.page
      .getByTestId("task-status")
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 15_000 });
    const final = (await ui.page.getByTestId("task-output").textContent()) ?? "";
    // Each piece extends the one before, and the final output extends them all.
    for (const [i, partial] of partials.entries()) {
      expect(final.startsWith(partial), `partial ${i} is a prefix of the final output`).toBe(true);
      if (i > 0) expect(partial.length).toBeGreaterThan(partials[i - 1]?.length ?? 0);
    }
    expect(final.length).toBeGreaterThan(partials.at(-1)?.length ?? 0);
    // A finished task has nothing left to watch.
    expect(await ui.page.getByTestId("live-mode").count()).toBe(0);
  });

  it("keeps the task list live: created, updated and deleted without a reload", async () => {
    // The rows' fetches; the status chips' counts (page size 1) are fetched again on news.
    const isList = (r: Request) =>
      r.url().endsWith(".TaskService/ListTasks") && !/"pageSize":1\b/.test(r.postData() ?? "");
    let listCalls = 0;
    let listDone = 0;
    ui.page.on("request", (r) => {
      if (isList(r)) listCalls++;
    });
    const finished = (r: Request) => {
      if (isList(r)) listDone++;
    };
    ui.page.on("requestfinished", finished);
    ui.page.on("requestfailed", finished);
    await ui.page.goto(`${ui.app.url}/`);
    await ui.page.getByTestId("live-mode").filter({ hasText: "Live" }).waitFor();
    // The stream stays open, so "networkidle" never comes: wait for the list calls instead.
    await expect.poll(() => listCalls > 0 && listDone === listCalls).toBe(true);
    const callsBefore = listCalls;
    const completedCount = async () =>
      Number(
        (await ui.page
          .getByTestId("status-filter-completed")
          .getByTestId("status-count")
          .textContent()) ?? "NaN",
      );
    await expect.poll(() => completedCount()).not.toBeNaN();
    const completedBefore = await completedCount();

    const id = await createTask("appears by itself", "[[sim ttft=300]] hi", "simulator/echo");
    const row = ui.page.getByTestId("task-row").filter({ hasText: "appears by itself" });
    await row.waitFor({ timeout: 5000 });
    await row.filter({ hasText: "completed" }).waitFor({ timeout: 15_000 });
    await screenshot(ui.page, "task-list-live");
    // The stream brought all of it: the list was not fetched again; the counts follow.
    expect(listCalls).toBe(callsBefore);
    await expect.poll(() => completedCount(), { timeout: 5000 }).toBe(completedBefore + 1);

    await rpc("DeleteTask", { id });
    await row.waitFor({ state: "detached", timeout: 5000 });
    expect(listCalls).toBe(callsBefore);
    await expect.poll(() => completedCount(), { timeout: 5000 }).toBe(completedBefore);
  });

  it("falls back to polling when WatchTask is blocked, and still sees the task finish", async () => {
    await ui.page.route("**/promptline.v1.TaskService/WatchTask", (route) => route.abort());
    const id = await createTask("watched by polling", SLOW_LOREM);
    await ui.page.goto(`${ui.app.url}/tasks/${id}`);

    const mode = ui.page.getByTestId("live-mode");
    await mode.filter({ hasText: "Polling every 2 s" }).waitFor({ timeout: 5000 });
    expect(await mode.getAttribute("title")).toMatch(/refreshes every 2 s/);
    await screenshot(ui.page, "task-polling");
    await ui.page
      .getByTestId("task-status")
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 20_000 });
    expect(await ui.page.getByTestId("task-output").textContent()).toMatch(/\w+/);
  });

  it("polls the list while WatchTasks gets no answer, and goes live once it does", async () => {
    // A proxy that buffers the stream: the request is made, nothing comes back.
    await ui.page.route("**/promptline.v1.TaskService/WatchTasks", () => {});
    await ui.page.goto(`${ui.app.url}/`);
    const mode = ui.page.getByTestId("live-mode");
    await mode.filter({ hasText: "Polling" }).waitFor({ timeout: 10_000 });
    expect(await mode.getAttribute("title")).toMatch(/buffering/);

    await createTask("found by polling", "hi", "simulator/echo");
    await ui.page
      .getByTestId("task-row")
      .filter({ hasText: "found by polling" })
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 10_000 });
    await screenshot(ui.page, "task-list-polling");

    await ui.page.unroute("**/promptline.v1.TaskService/WatchTasks");
    await mode.filter({ hasText: "Live" }).waitFor({ timeout: 20_000 });
  });
});
