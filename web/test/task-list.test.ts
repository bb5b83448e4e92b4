import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TaskPriority, TaskStatus } from "@promptline/proto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { checkPageInBothThemes, expectNoSeriousA11yViolations } from "./a11y.js";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ui = browserTestApp({ failureScreenshot: "task-list-failed-test" });

/**
 * Tasks that stay where they are put: a run_at a day ahead keeps them
 * pending, and the ones named in `cancel` are cancelled at once.
 */
async function parkedTasks(
  marker: string,
  specs: Array<{
    name: string;
    priority?: TaskPriority;
    model?: string;
    cancel?: boolean;
    metadata?: Record<string, string>;
  }>,
): Promise<string[]> {
  const runAt = timestampFromMs(Date.now() + 24 * 3_600_000);
  const ids: string[] = [];
  for (const spec of specs) {
    const { task } = await ui.client.createTask({
      name: `${spec.name} ${marker}`,
      prompt: `${marker} ${spec.name}`,
      model: spec.model ?? "simulator/echo",
      priority: spec.priority ?? TaskPriority.NORMAL,
      metadata: spec.metadata ?? {},
      runAt,
    });
    const id = task?.id ?? "";
    if (spec.cancel === true) await ui.client.cancelTask({ id });
    ids.push(id);
  }
  return ids;
}

function rowNames(p: Page): Promise<string[]> {
  return p
    .getByTestId("task-row")
    .locator("a")
    .evaluateAll((links) => links.map((l) => (l.textContent ?? "").split(" ")[0] ?? ""));
}

/** The count on a status chip, e.g. "3". */
function chipCount(p: Page, status: string): Promise<string> {
  return p
    .getByTestId(`status-filter-${status}`)
    .getByTestId("status-count")
    .textContent()
    .then((t) => t ?? "");
}

describe("task list in Chromium", { timeout: 60_000 }, () => {
  it("filters by status, priority, model and date, sorts, counts, and keeps it all in the URL", async () => {
    const marker = `flt${Date.now()}`;
    await parkedTasks(marker, [
      { name: "alpha", priority: TaskPriority.LOW, metadata: { team: "red" } },
      { name: "bravo", priority: TaskPriority.HIGH, cancel: true },
      {
        name: "charlie",
        priority: TaskPriority.CRITICAL,
        model: "simulator/lorem",
        metadata: { team: "red", area: "search" },
      },
      { name: "delta", priority: TaskPriority.HIGH, metadata: { team: "blue" } },
    ]);
    await ui.page.goto(`${ui.app.url}/?q=${marker}`);
    await expect.poll(() => rowNames(ui.page)).toEqual(["delta", "charlie", "bravo", "alpha"]);
    await expect.poll(() => chipCount(ui.page, "pending")).toBe("3");
    // Waiting for their run_at, and the row says until when.
    expect(await ui.page.getByTestId("task-row").first().textContent()).toMatch(/pendingruns \w+/);
    expect(await chipCount(ui.page, "cancelled")).toBe("1");
    expect(await chipCount(ui.page, "completed")).toBe("0");
    await checkPageInBothThemes(ui.page, "task-list-filters");
    await ui.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(ui.page, "task-list-mobile");
    await ui.page.setViewportSize({ width: 1280, height: 900 });

    // Status chip: the counts stay, the rows narrow, the URL says so.
    await ui.page.getByTestId("status-filter-pending").click();
    await expect.poll(() => rowNames(ui.page)).toEqual(["delta", "charlie", "alpha"]);
    expect(new URL(ui.page.url()).searchParams.getAll("status")).toEqual(["pending"]);
    expect(await chipCount(ui.page, "cancelled")).toBe("1");

    await ui.page.getByLabel("Sort").selectOption({ label: "Priority, highest first" });
    await expect.poll(() => rowNames(ui.page)).toEqual(["charlie", "delta", "alpha"]);
    await ui.page.getByLabel("Priority", { exact: true }).selectOption("high");
    await expect.poll(() => rowNames(ui.page)).toEqual(["delta"]);
    await ui.page.getByLabel("Priority", { exact: true }).selectOption("");
    await ui.page.getByLabel("Model", { exact: true }).selectOption("simulator/lorem");
    await expect.poll(() => rowNames(ui.page)).toEqual(["charlie"]);
    const params = new URL(ui.page.url()).searchParams;
    expect(params.get("sort")).toBe("priority");
    expect(params.get("model")).toBe("simulator/lorem");

    // A shared link opens the same view.
    const shared = ui.page.url();
    const other = await ui.browser.newPage();
    await other.goto(shared);
    await expect.poll(() => rowNames(other)).toEqual(["charlie"]);
    expect(await other.getByLabel("Sort").inputValue()).toBe(String(3));
    await other.close();

    // A date range that ends yesterday has none of today's tasks; today has them all.
    const day = (offset: number) => {
      const d = new Date(Date.now() + offset * 86_400_000);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    };
    await ui.page.goto(`${ui.app.url}/?q=${marker}&to=${day(-1)}`);
    await ui.page.getByText("No tasks match these filters").waitFor();
    await ui.page.getByLabel("Created until").fill(day(0));
    await expect.poll(() => rowNames(ui.page)).toEqual(["delta", "charlie", "bravo", "alpha"]);
    await ui.page.getByLabel("Created from").fill(day(1));
    await ui.page.getByText("“Created until” is before “Created from”").waitFor();
    await ui.page.getByRole("button", { name: "Clear filters" }).first().click();
    await expect.poll(() => new URL(ui.page.url()).search).toBe("");

    // Metadata pairs: every one must match.
    await ui.page.goto(`${ui.app.url}/?q=${marker}`);
    await expect.poll(() => rowNames(ui.page)).toEqual(["delta", "charlie", "bravo", "alpha"]);
    const metadata = ui.page.getByLabel("Metadata");
    await metadata.fill("team:red");
    await metadata.press("Enter");
    await expect.poll(() => rowNames(ui.page)).toEqual(["charlie", "alpha"]);
    expect(new URL(ui.page.url()).searchParams.getAll("meta")).toEqual(["team:red"]);
    await metadata.fill("team:red area:search");
    await metadata.press("Enter");
    await expect.poll(() => rowNames(ui.page)).toEqual(["charlie"]);
    await metadata.fill("team");
    await metadata.press("Enter");
    await ui.page.getByText("Write key:value pairs, separated by spaces.").waitFor();
    expect(await metadata.getAttribute("aria-invalid")).toBe("true");
    expect(await rowNames(ui.page)).toEqual(["charlie"]);
  });

  it("pages through a long list with Load more, in the chosen order", async () => {
    const marker = `pg${Date.now()}`;
    const specs = Array.from({ length: 55 }, (_, i) => ({
      name: `p${String(i).padStart(2, "0")}`,
    }));
    const { tasks } = await ui.client.batchCreateTasks({
      tasks: specs.map((s) => ({
        name: `${s.name} ${marker}`,
        prompt: `${marker} ${s.name}`,
        model: "simulator/echo",
        runAt: timestampFromMs(Date.now() + 24 * 3_600_000),
      })),
    });
    expect(tasks).toHaveLength(55);
    await ui.page.goto(`${ui.app.url}/?q=${marker}&sort=oldest`);
    await expect.poll(() => ui.page.getByTestId("task-row").count()).toBe(50);
    await ui.page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => ui.page.getByTestId("task-row").count()).toBe(55);
    const names = await rowNames(ui.page);
    expect(names).toEqual(specs.map((s) => s.name));
    expect(await ui.page.getByRole("button", { name: "Load more" }).count()).toBe(0);
  });

  it("cancels, retries and deletes selected tasks, and names the ones the server refused", async () => {
    const marker = `blk${Date.now()}`;
    const [a, b] = await parkedTasks(marker, [
      { name: "one" },
      { name: "two" },
      { name: "three" },
      { name: "four", cancel: true },
    ]);
    // The page hears no news (no stream, and soon no polls either)…
    await ui.page.route("**/promptline.v1.TaskService/WatchTasks", (route) => route.abort());
    await ui.page.goto(`${ui.app.url}/?q=${marker}`);
    await expect.poll(() => rowNames(ui.page)).toEqual(["four", "three", "two", "one"]);
    await ui.page.route("**/promptline.v1.TaskService/ListTasks", (route) => route.abort());
    // …so it still thinks "one" is pending when someone else cancels it.
    await ui.client.cancelTask({ id: a ?? "" });

    await ui.page.getByLabel("Select one").check();
    await ui.page.getByLabel("Select two").check();
    await ui.page.getByLabel("Select four").check();
    const bar = ui.page.getByTestId("bulk-bar");
    expect(await bar.textContent()).toContain("3 tasks selected");
    const calls: string[] = [];
    ui.page.on("request", (r) => {
      const method = /TaskService\/(\w+)$/.exec(r.url())?.[1];
      if (method?.startsWith("Cancel")) calls.push(method);
    });
    await ui.page.getByRole("button", { name: "Cancel 2" }).click();
    const result = ui.page.getByTestId("bulk-result");
    await result.waitFor();
    const text = await result.textContent();
    expect(text).toContain("1 task cancelled · 1 refused · 1 skipped");
    // One call for the selection, not one per task.
    expect(calls).toEqual(["CancelTasks"]);
    expect(text).toContain(`one ${marker}`);
    expect(text).toMatch(/only pending, queued or running tasks can be cancelled/);
    await screenshot(ui.page, "task-list-bulk-result");
    await expectNoSeriousA11yViolations(
      ui.page,
      "the task list with a selection and a bulk report",
    );
    expect((await ui.client.getTask({ id: b ?? "" })).task?.status).toBe(TaskStatus.CANCELLED);

    await ui.page.unroute("**/promptline.v1.TaskService/WatchTasks");
    await ui.page.unroute("**/promptline.v1.TaskService/ListTasks");
    await ui.page.reload();
    const statusOf = (name: string) =>
      ui.page
        .getByTestId("task-row")
        .filter({ hasText: name })
        .getByText(/^(pending|cancelled)$/);
    await expect.poll(() => statusOf("one").textContent()).toBe("cancelled");
    expect(await statusOf("two").textContent()).toBe("cancelled");
    expect(await statusOf("three").textContent()).toBe("pending");

    // A retry runs the task now, whatever its run_at said.
    await ui.page.getByLabel("Select two").check();
    await ui.page.getByRole("button", { name: "Retry 1" }).click();
    await ui.page.getByTestId("bulk-result").filter({ hasText: "1 task retried" }).waitFor();
    await ui.page
      .getByTestId("task-row")
      .filter({ hasText: "two" })
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 15_000 });

    await ui.page.getByLabel("Select all shown tasks").check();
    // Each action counts the selected tasks it applies to.
    await ui.page.getByRole("button", { name: "Cancel 1" }).waitFor();
    await ui.page.getByRole("button", { name: "Retry 2" }).waitFor();
    // Only finished tasks can go: the waiting one stays, and the dialog says so.
    await ui.page.getByRole("button", { name: "Delete 3" }).click();
    const dialog = ui.page.getByRole("dialog", { name: "Delete 3 tasks?" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("1 selected task is still running or waiting");
    await screenshot(ui.page, "task-list-bulk-delete-confirm");
    await expectNoSeriousA11yViolations(ui.page, "the bulk delete confirmation");
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await expect.poll(() => rowNames(ui.page)).toEqual(["three"]);
    expect(await ui.page.getByTestId("bulk-result").textContent()).toContain(
      "3 tasks deleted · 1 skipped",
    );
    const left = await ui.client.listTasks({ query: marker });
    expect(left.tasks.map((t) => t.name)).toEqual([`three ${marker}`]);
  });
});
