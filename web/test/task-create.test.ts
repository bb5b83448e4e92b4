import { timestampMs } from "@bufbuild/protobuf/wkt";
import { TaskPriority, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { settled } from "../../server/test/task-client.js";
import { checkPageInBothThemes, expectNoSeriousA11yViolations } from "./a11y.js";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ui = browserTestApp({ failureScreenshot: "task-create-failed-test" });

/** `datetime-local`'s value for a moment, in the browser's (and this process's) local time. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

describe("create form in Chromium", { timeout: 60_000 }, () => {
  it("schedules a task for later: it waits as pending with its time shown", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Prompt", { exact: true }).fill("run me tomorrow");
    await ui.page.getByLabel("Model").selectOption("simulator/echo");
    await ui.page.getByLabel("Later").check();
    const at = Date.now() + 26 * 3_600_000;
    await ui.page.getByLabel("Run at").fill(localInput(at));
    await checkPageInBothThemes(ui.page, "task-create");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await ui.page.getByTestId("task-status").filter({ hasText: "pending" }).waitFor();
    expect(await ui.page.getByRole("region", { name: "Details" }).textContent()).toContain(
      "Scheduled for",
    );
    expect(await ui.page.getByRole("region", { name: "Output" }).textContent()).toContain(
      "No output yet: scheduled to run at",
    );
    const id = ui.page.url().split("/").at(-1) ?? "";
    const { task } = await ui.client.getTask({ id });
    expect(task?.status).toBe(TaskStatus.PENDING);
    // To the minute, as the control holds it.
    const runAt = task?.runAt === undefined ? 0 : timestampMs(task.runAt);
    expect(Math.abs(runAt - at)).toBeLessThan(60_000);
  });

  it("refuses a time in the past next to the control, before sending anything", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Prompt", { exact: true }).fill("too late");
    await ui.page.getByLabel("Model").selectOption("simulator/echo");
    await ui.page.getByLabel("Later").check();
    await ui.page.getByLabel("Run at").fill(localInput(Date.now() - 3 * 3_600_000));
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.getByText("This time has passed").waitFor();
    expect(await ui.page.getByLabel("Run at").getAttribute("aria-invalid")).toBe("true");
    expect(ui.page.url()).toMatch(/\/tasks\/new$/);
  });

  it("creates a batch from pasted lines, after a preview", async () => {
    const marker = `lines${Date.now()}`;
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByRole("link", { name: "Many at once" }).click();
    await ui.page.waitForURL(/mode=batch/);
    await ui.page
      .getByLabel("Or paste them")
      .fill(`${marker} one\n\n${marker} two\n${marker} three`);
    await expect.poll(() => ui.page.getByTestId("batch-row").count()).toBe(3);
    expect(await ui.page.getByTestId("batch-summary").textContent()).toBe(
      "3 tasks · ready to create",
    );
    await checkPageInBothThemes(ui.page, "task-create-batch");
    // A phone shows the form and its preview without sideways scrolling.
    await ui.page.setViewportSize({ width: 375, height: 812 });
    await screenshot(ui.page, "task-create-batch-phone");
    expect(await ui.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      375,
    );
    await ui.page.setViewportSize({ width: 1280, height: 900 });
    await ui.page.getByRole("button", { name: "Create 3 tasks" }).click();
    const created = ui.page.getByTestId("batch-created");
    await created.getByRole("heading", { name: "3 tasks created" }).waitFor();
    expect(await created.getByRole("link").count()).toBeGreaterThanOrEqual(3);
    const { tasks } = await ui.client.listTasks({ query: marker });
    expect(tasks.map((t) => t.prompt).sort()).toEqual([
      `${marker} one`,
      `${marker} three`,
      `${marker} two`,
    ]);
    await created.getByRole("link", { name: "Open the task list" }).click();
    await ui.page.waitForURL(`${ui.app.url}/`);
  });

  it("reads an uploaded CSV: columns become fields and variables, bad rows are pointed at", async () => {
    const marker = `csv${Date.now()}`;
    await ui.page.goto(`${ui.app.url}/tasks/new?mode=batch`);
    const upload = (body: string) =>
      ui.page.getByLabel("Upload a file").setInputFiles({
        name: "cities.csv",
        mimeType: "text/csv",
        buffer: Buffer.from(body),
      });
    const header = "name,prompt,priority,city";
    await upload(
      `${header}\nOslo ${marker},"Weather in {{vars.city}}, today",high,Oslo\nLima ${marker},Weather in {{vars.city}},urgent,Lima`,
    );
    // The file is read asynchronously.
    await expect.poll(() => ui.page.getByLabel("Format").inputValue()).toBe("csv");
    await expect
      .poll(() => ui.page.getByTestId("batch-summary").textContent())
      .toBe("2 tasks · 1 with a problem to fix first");
    const bad = ui.page.locator('[data-testid="batch-row"][aria-invalid="true"]');
    expect(await bad.textContent()).toContain(
      'priority must be low, normal, high or critical, not "urgent"',
    );
    expect(await ui.page.getByRole("button", { name: "Create 2 tasks" }).isDisabled()).toBe(true);
    await screenshot(ui.page, "task-create-batch-problem");
    await expectNoSeriousA11yViolations(ui.page, "the batch preview with a bad row");

    await upload(
      `${header}\nOslo ${marker},"Weather in {{vars.city}}, today",high,Oslo\nLima ${marker},Weather in {{vars.city}},low,Lima`,
    );
    await ui.page.getByRole("button", { name: "Create 2 tasks" }).click();
    await ui.page.getByRole("heading", { name: "2 tasks created" }).waitFor();
    const { tasks } = await ui.client.listTasks({ query: marker });
    const oslo = tasks.find((t) => t.name === `Oslo ${marker}`);
    expect(oslo?.vars).toEqual({ city: "Oslo" });
    expect(oslo?.priority).toBe(TaskPriority.HIGH);
    const done = await settled(ui.client, oslo?.id ?? "");
    expect(done.output).toBe("Echo: Weather in Oslo, today");
  });

  it("shows the server's reason on the row it names, and creates nothing", async () => {
    const marker = `jsonl${Date.now()}`;
    await ui.page.goto(`${ui.app.url}/tasks/new?mode=batch`);
    await ui.page.getByLabel("Format").selectOption("jsonl");
    await ui.page
      .getByLabel("Or paste them")
      .fill(
        `{"prompt": "${marker} fine"}\n{"prompt": "${marker} doomed", "model": "nowhere/none"}`,
      );
    await ui.page.getByRole("button", { name: "Create 2 tasks" }).click();
    const bad = ui.page.locator('[data-testid="batch-row"][aria-invalid="true"]');
    await bad.waitFor();
    expect(await bad.textContent()).toContain("doomed");
    expect(await bad.textContent()).toMatch(/model: /);
    await ui.page.getByText("No task was created: fix the rows marked in the preview").waitFor();
    expect((await ui.client.listTasks({ query: marker })).tasks).toHaveLength(0);
  });

  it("schedules a batch: the form's time for most rows, a run_at column for others", async () => {
    const marker = `sched${Date.now()}`;
    const own = Date.now() + 48 * 3_600_000;
    const shared = Date.now() + 5 * 3_600_000;
    await ui.page.goto(`${ui.app.url}/tasks/new?mode=batch`);
    await ui.page.getByLabel("Format").selectOption("csv");
    await ui.page
      .getByLabel("Or paste them")
      .fill(`name,prompt,run_at\nown ${marker},a,${localInput(own)}\nshared ${marker},b,`);
    await ui.page.getByLabel("Later").check();
    await ui.page.getByLabel("Run at").fill(localInput(shared));
    await expect
      .poll(() => ui.page.getByTestId("batch-row").filter({ hasText: "runs" }).count())
      .toBe(2);
    await ui.page.getByRole("button", { name: "Create 2 tasks" }).click();
    await ui.page.getByRole("heading", { name: "2 tasks created" }).waitFor();
    const { tasks } = await ui.client.listTasks({ query: marker });
    const at = (name: string) => {
      const t = tasks.find((x) => x.name === `${name} ${marker}`);
      expect(t?.status).toBe(TaskStatus.PENDING);
      return t?.runAt === undefined ? 0 : timestampMs(t.runAt);
    };
    expect(Math.abs(at("own") - own)).toBeLessThan(60_000);
    expect(Math.abs(at("shared") - shared)).toBeLessThan(60_000);
  });

  it("labels a task: the labels are its metadata, and the list filters by them", async () => {
    const marker = `labels${Date.now()}`;
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.getByLabel("Name").fill(`labelled ${marker}`);
    await ui.page.getByLabel("Prompt", { exact: true }).fill("hello");
    await ui.page.getByLabel("Model").selectOption("simulator/echo");
    await ui.page.getByLabel("Labels").fill("team:red area");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.getByText("Write key:value pairs separated by spaces").waitFor();
    await ui.page.getByLabel("Labels").fill("team:red area:search");
    await ui.page.getByRole("button", { name: "Create task" }).click();
    await ui.page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const details = ui.page.getByRole("region", { name: "Details" });
    await expect.poll(() => details.textContent()).toMatch(/teamred/);
    expect(await details.textContent()).toMatch(/areasearch/);

    await ui.page.goto(`${ui.app.url}/?q=${marker}&meta=team:red`);
    await ui.page
      .getByTestId("task-row")
      .filter({ hasText: `labelled ${marker}` })
      .waitFor();
    await ui.page.goto(`${ui.app.url}/?q=${marker}&meta=team:blue`);
    await ui.page.getByText("No tasks match these filters").waitFor();
  });
});
