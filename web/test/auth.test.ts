import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../server/src/auth/keys.js";
import { ensureUser, insertApiKey } from "../../server/src/db/auth.js";
import { startTestApp } from "../../server/test/harness.js";
import { checkPageInBothThemes } from "./a11y.js";
import { screenshot } from "./browser.js";
import { browserTestApp } from "./fixture.js";

const ui = browserTestApp({ env: { AUTH_MODE: "keys" }, context: {} });
let alice: { name: string; key: string };
let bob: { name: string; key: string };

async function member(prefix: string, role: "admin" | "member" = "member") {
  const name = `${prefix}-${randomUUID().slice(0, 6)}`;
  const user = await ensureUser(ui.app.db, name, role);
  const key = generateApiKey();
  await insertApiKey(ui.app.db, {
    userId: user.id,
    name: "",
    prefix: key.prefix,
    keyHash: key.hash,
  });
  return { name, key: key.key };
}

/** A TaskService call as another service makes it: Connect JSON with a Bearer key. */
async function rpc<T>(key: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${ui.app.url}/promptline.v1.TaskService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function signIn(p: Page, key: string): Promise<void> {
  await p.goto(`${ui.app.url}/`);
  await p.waitForURL(/\/sign-in\?next=%2F$/);
  await p.getByLabel("API key").fill(key);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(`${ui.app.url}/`);
}

beforeAll(async () => {
  alice = await member("alice");
  bob = await member("bob");
});

describe("sign-in in Chromium (AUTH_MODE=keys)", () => {
  it("sends a visitor to sign in, refuses a bad key, accepts a good one, and signs out", async () => {
    await ui.page.goto(`${ui.app.url}/tasks/new`);
    await ui.page.waitForURL(/\/sign-in\?next=%2Ftasks%2Fnew$/);
    await ui.page.getByLabel("API key").fill(generateApiKey().key);
    await ui.page.getByRole("button", { name: "Sign in" }).click();
    await expect
      .poll(() => ui.page.getByText(/That key was refused: invalid API key/).count())
      .toBe(1);
    await checkPageInBothThemes(ui.page, "sign-in-refused");

    await ui.page.getByLabel("API key").fill(alice.key);
    await ui.page.getByRole("button", { name: "Sign in" }).click();
    await ui.page.waitForURL(`${ui.app.url}/tasks/new`);
    await expect.poll(() => ui.page.getByTestId("account").textContent()).toContain(alice.name);
    // The dashboard counts every user's tasks (admin-only RPCs): no link for a member.
    expect(await ui.page.getByRole("link", { name: "Dashboard" }).count()).toBe(0);
    expect(await ui.page.evaluate(() => localStorage.getItem("promptline.apiKey"))).toBe(alice.key);

    await ui.page.getByRole("button", { name: "Sign out" }).click();
    await ui.page.waitForURL(/\/sign-in/);
    expect(await ui.page.evaluate(() => localStorage.getItem("promptline.apiKey"))).toBeNull();
  });

  it("a stored key the server refuses signs the browser out, saying why", async () => {
    await ui.page.goto(`${ui.app.url}/sign-in`);
    const unknown = generateApiKey().key;
    await ui.page.evaluate((k) => localStorage.setItem("promptline.apiKey", k), unknown);
    await ui.page.goto(`${ui.app.url}/`);
    await ui.page.waitForURL(/\/sign-in/);
    await expect
      .poll(() =>
        ui.page.getByText(/You were signed out: invalid API key: pl_[\w-]+… is not known/).count(),
      )
      .toBe(1);
    expect(await ui.page.evaluate(() => localStorage.getItem("promptline.apiKey"))).toBeNull();
  });

  it("a member's list shows only their own tasks", async () => {
    const marker = `only${randomUUID().slice(0, 8)}`;
    await rpc(alice.key, "CreateTask", {
      name: `alice ${marker}`,
      prompt: "a",
      model: "simulator/echo",
    });
    await rpc(bob.key, "CreateTask", {
      name: `bob ${marker}`,
      prompt: "b",
      model: "simulator/echo",
    });
    await signIn(ui.page, bob.key);
    await ui.page
      .getByTestId("task-row")
      .filter({ hasText: `bob ${marker}` })
      .waitFor();
    expect(
      await ui.page
        .getByTestId("task-row")
        .filter({ hasText: `alice ${marker}` })
        .count(),
    ).toBe(0);
  });
});

describe("templates in Chromium (AUTH_MODE=keys)", { timeout: 30_000 }, () => {
  it("shows who made a template, and offers edit and delete only to its creator and admins", async () => {
    const name = `shared ${randomUUID().slice(0, 6)}`;
    const res = await fetch(`${ui.app.url}/promptline.v1.TemplateService/CreateTemplate`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${alice.key}` },
      body: JSON.stringify({
        name,
        prompt: "Hi {{vars.who}}",
        model: "simulator/echo",
        variables: [{ name: "who" }],
      }),
    });
    expect(res.ok).toBe(true);

    // Bob may run Alice's template and read it, not change it.
    await signIn(ui.page, bob.key);
    await ui.page.goto(`${ui.app.url}/templates`);
    const row = ui.page.getByTestId("template-row").filter({ hasText: name });
    await row.getByText(`by ${alice.name}`).waitFor();
    await row.click();
    await ui.page.getByTestId("template-creator").filter({ hasText: alice.name }).waitFor();
    await ui.page.getByText(`Only ${alice.name}, who created this template, or an admin`).waitFor();
    await ui.page.getByText("Hi {{vars.who}}").waitFor();
    await ui.page.getByRole("button", { name: "Run template" }).waitFor();
    expect(await ui.page.getByRole("button", { name: "Delete" }).count()).toBe(0);
    expect(await ui.page.getByRole("heading", { name: "Edit" }).count()).toBe(0);
    await checkPageInBothThemes(ui.page, "template-not-yours");

    // Alice, its creator, and an admin get the editor and Delete on the same page.
    const admin = await member("admin", "admin");
    for (const key of [alice.key, admin.key]) {
      const other = await ui.browser.newPage();
      try {
        await signIn(other, key);
        await other.goto(ui.page.url());
        await other.getByRole("heading", { name: "Edit" }).waitFor();
        await other.getByRole("button", { name: "Delete" }).waitFor();
        expect(await other.getByText("who created this template").count()).toBe(0);
      } finally {
        await other.close();
      }
    }
  });
});

describe("hostile prompts in Chromium", () => {
  const hostile = [
    "'); drop table tasks;--",
    "<img src=x onerror=window.__pwned=1>",
    "<script>window.__pwned=1</script>",
  ];

  it("are stored verbatim and shown verbatim in the list and the detail page; no script runs", async () => {
    const ids: string[] = [];
    for (const text of hostile) {
      const { task } = await rpc<{ task: { id: string } }>(alice.key, "CreateTask", {
        name: text,
        prompt: text,
        model: "simulator/echo",
      });
      ids.push(task.id);
    }
    // Stored as sent (and the SQL one dropped nothing).
    for (const [i, id] of ids.entries()) {
      const { task } = await rpc<{ task: { prompt: string; name: string } }>(alice.key, "GetTask", {
        id,
      });
      expect(task).toMatchObject({ prompt: hostile[i], name: hostile[i] });
    }

    await signIn(ui.page, alice.key);
    for (const text of hostile) {
      await ui.page.getByTestId("task-row").filter({ hasText: text }).first().waitFor();
    }
    expect(await ui.page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined();
    await screenshot(ui.page, "hostile-list");

    for (const [i, id] of ids.entries()) {
      await ui.page.goto(`${ui.app.url}/tasks/${id}`);
      await ui.page
        .getByTestId("task-status")
        .filter({ hasText: "completed" })
        .waitFor({ timeout: 15_000 });
      const text = hostile[i] ?? "";
      await expect.poll(() => ui.page.evaluate(() => document.body.textContent)).toContain(text);
      // Nothing the text describes became an element.
      expect(await ui.page.locator("main img[src='x'], main script").count()).toBe(0);
      expect(
        await ui.page.evaluate(() => (window as { __pwned?: unknown }).__pwned),
      ).toBeUndefined();
    }
    await screenshot(ui.page, "hostile-detail");
  });
});

describe("local mode in Chromium", () => {
  it("needs no sign-in and says so plainly", async () => {
    const local = await startTestApp();
    try {
      await ui.page.goto(`${local.url}/`);
      await ui.page.getByTestId("local-mode-notice").waitFor();
      expect(await ui.page.getByTestId("local-mode-notice").textContent()).toMatch(
        /Local mode: no sign-in/,
      );
      expect(ui.page.url()).toBe(`${local.url}/`);
      await ui.page.getByRole("link", { name: "Dashboard" }).waitFor();
      await checkPageInBothThemes(ui.page, "local-mode-notice");
    } finally {
      await local.close();
    }
  });
});
