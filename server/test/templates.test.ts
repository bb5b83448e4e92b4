import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { TaskPriority, TaskService, TaskStatus, TemplateService } from "@promptline/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../src/auth/keys.js";
import { ensureUser, insertApiKey } from "../src/db/auth.js";
import { startTestApp, type TestApp } from "./harness.js";
import { connectClient, settled } from "./task-client.js";

const ECHO_MODEL = "simulator/echo";

interface CreateTemplateInit {
  name: string;
  description?: string;
  prompt: string;
  systemPrompt?: string;
  model: string;
  params?: { temperature?: number; maxTokens?: number };
  variables: Array<{ name: string; description?: string; defaultValue?: string }>;
}

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.close();
});

async function expectConnectError(promise: Promise<unknown>, code: Code, message: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  const connectError = ConnectError.from(error);
  expect(Code[connectError.code]).toBe(Code[code]);
  expect(connectError.rawMessage).toMatch(message);
}

const protocols: Array<[string, () => Transport]> = [
  ["Connect (HTTP/1.1)", () => createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" })],
  ["gRPC (HTTP/2)", () => createGrpcTransport({ baseUrl: app.url })],
  ["gRPC-web (HTTP/1.1)", () => createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1" })],
];

describe.each(protocols)("TemplateService over %s", (_, transport) => {
  let client: Client<typeof TemplateService>;
  // Names are unique per test: both protocols share one database.
  const unique = (name: string) => `${name} ${randomUUID().slice(0, 8)}`;
  const summary = (name = unique("summary")): CreateTemplateInit => ({
    name,
    description: "Summarise a text for an audience",
    prompt: "Summarise for {{vars.audience}}: {{vars.text}}",
    systemPrompt: "You write {{vars.tone}} summaries.",
    model: ECHO_MODEL,
    params: { temperature: 0.3, maxTokens: 200 },
    variables: [
      { name: "audience", description: "Who reads it", defaultValue: "engineers" },
      { name: "text", description: "What to summarise" },
      { name: "tone", defaultValue: "short" },
    ],
  });

  beforeAll(() => {
    client = createClient(TemplateService, transport());
  });

  it("creates a template and gets it back with its variables, params and etag", async () => {
    const { template } = await client.createTemplate(summary());
    expect(template?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(template?.etag).toMatch(/^\d+$/);
    // Local mode: every caller is the built-in user.
    expect(template?.createdBy).toBe("local");
    expect(template?.params?.temperature).toBe(0.3);
    expect(template?.variables.map((v) => [v.name, v.defaultValue])).toEqual([
      ["audience", "engineers"],
      ["text", undefined],
      ["tone", "short"],
    ]);
    const got = await client.getTemplate({ id: template?.id ?? "" });
    expect(got.template).toEqual(template);
  });

  it("refuses a duplicate name with AlreadyExists", async () => {
    const name = unique("taken");
    await client.createTemplate(summary(name));
    await expectConnectError(
      client.createTemplate(summary(name)),
      Code.AlreadyExists,
      /^name: a template named ".*" already exists$/,
    );
  });

  it("refuses bad templates with InvalidArgument naming the field", async () => {
    const cases: Array<[Partial<CreateTemplateInit>, RegExp]> = [
      [{ name: "  " }, /^name: must not be empty$/],
      [{ name: "x".repeat(201) }, /^name: must be at most 200 characters$/],
      [{ prompt: "" }, /^prompt: must not be empty$/],
      [{ prompt: "Hi {{vars.who}}" }, /^prompt: uses \{\{vars\.who\}\} but variables has no who$/],
      [{ prompt: "Go on: {{parent.output}}" }, /^prompt: a template may use only \{\{vars/],
      [{ prompt: "{{nonsense}}" }, /^prompt: unknown reference \{\{nonsense\}\}/],
      [
        {
          variables: [{ name: "audience" }, { name: "text" }, { name: "tone" }, { name: "extra" }],
        },
        /^variables\[3\]\.name: extra is not used in prompt or system_prompt$/,
      ],
      [
        { variables: [{ name: "audience" }, { name: "audience" }] },
        /^variables\[1\]\.name: repeats the variable audience$/,
      ],
      [{ variables: [{ name: "1bad" }] }, /^variables\[0\]\.name: must be 1-64 letters/],
      [{ model: "" }, /^model: is required$/],
      [{ model: "nowhere/model" }, /^model: /],
      [{ params: { temperature: 3 } }, /^params\.temperature: must be between 0 and 2$/],
      [{ params: { maxTokens: 0 } }, /^params\.max_tokens: must be from 1 to/],
    ];
    for (const [change, message] of cases) {
      await expectConnectError(
        client.createTemplate({ ...summary(), ...change }),
        Code.InvalidArgument,
        message,
      );
    }
  });

  it("lists by name, searches by name and pages with a cursor", async () => {
    const tag = randomUUID().slice(0, 8);
    for (const letter of ["c", "a", "b"]) {
      await client.createTemplate(summary(`list-${tag}-${letter}`));
    }
    await client.createTemplate(summary(`other-${tag}`));
    const first = await client.listTemplates({ query: `LIST-${tag}`, pageSize: 2 });
    expect(first.templates.map((t) => t.name)).toEqual([`list-${tag}-a`, `list-${tag}-b`]);
    expect(first.nextPageToken).not.toBe("");
    const second = await client.listTemplates({
      query: `list-${tag}`,
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(second.templates.map((t) => t.name)).toEqual([`list-${tag}-c`]);
    expect(second.nextPageToken).toBe("");
    // LIKE's wildcards are searched as text.
    expect((await client.listTemplates({ query: `list_${tag}` })).templates).toEqual([]);
    await expectConnectError(
      client.listTemplates({ pageToken: "garbage" }),
      Code.InvalidArgument,
      /^page_token: /,
    );
    await expectConnectError(
      client.listTemplates({ pageSize: 201 }),
      Code.InvalidArgument,
      /^page_size: /,
    );
  });

  it("updates the masked fields only, and refuses a stale etag with Aborted", async () => {
    const { template } = await client.createTemplate(summary());
    const id = template?.id ?? "";
    const { template: updated } = await client.updateTemplate({
      template: {
        id,
        description: "Changed",
        name: "ignored: not in the mask",
        etag: template?.etag,
      },
      updateMask: { paths: ["description"] },
    });
    expect(updated?.description).toBe("Changed");
    expect(updated?.name).toBe(template?.name);
    expect(updated?.prompt).toBe(template?.prompt);
    expect(updated?.etag).not.toBe(template?.etag);
    await expectConnectError(
      client.updateTemplate({
        template: { id, description: "Lost update", etag: template?.etag },
        updateMask: { paths: ["description"] },
      }),
      Code.Aborted,
      /^etag: /,
    );
    // A new prompt with a new variable needs both fields changed at once.
    await expectConnectError(
      client.updateTemplate({
        template: { id, prompt: "Translate {{vars.text}} to {{vars.language}}" },
        updateMask: { paths: ["prompt"] },
      }),
      Code.InvalidArgument,
      /^template\.prompt: uses \{\{vars\.language\}\} but variables has no language$/,
    );
    const { template: rewritten } = await client.updateTemplate({
      template: {
        id,
        prompt: "Translate {{vars.text}} to {{vars.language}}",
        systemPrompt: "",
        variables: [{ name: "text" }, { name: "language", defaultValue: "French" }],
      },
      updateMask: { paths: ["prompt", "system_prompt", "variables"] },
    });
    expect(rewritten?.variables.map((v) => v.name)).toEqual(["text", "language"]);
    await expectConnectError(
      client.updateTemplate({ template: { id }, updateMask: { paths: ["id"] } }),
      Code.InvalidArgument,
      /^update_mask\.paths\[0\]: "id" is not one of/,
    );
    await expectConnectError(
      client.updateTemplate({
        template: { id: randomUUID(), description: "x" },
        updateMask: { paths: ["description"] },
      }),
      Code.NotFound,
      /^template .* not found$/,
    );
    const other = await client.createTemplate(summary());
    await expectConnectError(
      client.updateTemplate({
        template: { id: other.template?.id, name: template?.name },
        updateMask: { paths: ["name"] },
      }),
      Code.AlreadyExists,
      /^name: /,
    );
  });

  it("deletes, with NotFound after and Aborted for a stale etag", async () => {
    const { template } = await client.createTemplate(summary());
    const id = template?.id ?? "";
    await client.updateTemplate({
      template: { id, description: "newer" },
      updateMask: { paths: ["description"] },
    });
    await expectConnectError(
      client.deleteTemplate({ id, etag: template?.etag }),
      Code.Aborted,
      /^etag: /,
    );
    await client.deleteTemplate({ id });
    await expectConnectError(client.getTemplate({ id }), Code.NotFound, /not found$/);
    await expectConnectError(client.deleteTemplate({ id }), Code.NotFound, /not found$/);
    await expectConnectError(
      client.getTemplate({ id: "not-a-uuid" }),
      Code.InvalidArgument,
      /^id: must be a template id \(UUID\)$/,
    );
  });

  it("renders a stored template or a draft, naming a missing variable", async () => {
    const { template } = await client.createTemplate(summary());
    const rendered = await client.renderTemplate({
      source: { case: "id", value: template?.id ?? "" },
      vars: { text: "RFC 9110" },
    });
    expect(rendered.prompt).toBe("Summarise for engineers: RFC 9110");
    expect(rendered.systemPrompt).toBe("You write short summaries.");
    await expectConnectError(
      client.renderTemplate({ source: { case: "id", value: template?.id ?? "" }, vars: {} }),
      Code.InvalidArgument,
      /^vars\.text: is required: the template uses \{\{vars\.text\}\}$/,
    );
    await expectConnectError(
      client.renderTemplate({
        source: { case: "id", value: template?.id ?? "" },
        vars: { text: "x", colour: "red" },
      }),
      Code.InvalidArgument,
      /^vars\.colour: the template has no variable of that name$/,
    );
    const draft = await client.renderTemplate({
      source: {
        case: "draft",
        value: { prompt: "Hello {{ vars.who }}", variables: [{ name: "who" }] },
      },
      vars: { who: "world" },
    });
    expect(draft.prompt).toBe("Hello world");
    await expectConnectError(
      client.renderTemplate({
        source: { case: "draft", value: { prompt: "Hello {{vars.who}}" } },
        vars: { who: "world" },
      }),
      Code.InvalidArgument,
      /^draft\.prompt: uses \{\{vars\.who\}\} but variables has no who$/,
    );
    await expectConnectError(client.renderTemplate({}), Code.InvalidArgument, /^source: /);
    await expectConnectError(
      client.renderTemplate({
        source: { case: "id", value: template?.id ?? "" },
        vars: { text: "x".repeat(256 * 1024 + 1) },
      }),
      Code.InvalidArgument,
      /^vars\.text: must be at most 262144 bytes$/,
    );
    await expectConnectError(
      client.renderTemplate({
        source: { case: "draft", value: { prompt: "y".repeat(256 * 1024 + 1) } },
      }),
      Code.InvalidArgument,
      /^draft\.prompt: must be at most 262144 bytes$/,
    );
  });

  it("runs a template as a task that completes, recording the template", async () => {
    const { template } = await client.createTemplate(summary());
    const id = template?.id ?? "";
    const { task } = await client.runTemplate({
      id,
      vars: { text: "RFC 9110", tone: "plain" },
      priority: TaskPriority.HIGH,
    });
    expect(task?.name).toBe(template?.name);
    expect(task?.metadata).toEqual({ template_id: id });
    expect(task?.priority).toBe(TaskPriority.HIGH);
    expect(task?.params?.maxTokens).toBe(200);
    const done = await settled(connectClient(app.url), task?.id ?? "");
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.output).toContain("Summarise for engineers: RFC 9110");
    await expectConnectError(
      client.runTemplate({ id, vars: {} }),
      Code.InvalidArgument,
      /^vars\.text: is required/,
    );
    await expectConnectError(
      client.runTemplate({ id: randomUUID(), vars: {} }),
      Code.NotFound,
      /not found$/,
    );
    await expectConnectError(
      client.runTemplate({ id, vars: { text: "a" }, name: "n".repeat(201) }),
      Code.InvalidArgument,
      /^name: must be at most 200 characters$/,
    );
    // A repeat with the same idempotency key returns the same task.
    const key = randomUUID();
    const once = await client.runTemplate({ id, vars: { text: "a" }, idempotencyKey: key });
    const twice = await client.runTemplate({ id, vars: { text: "a" }, idempotencyKey: key });
    expect(twice.task?.id).toBe(once.task?.id);
  });
});

describe("Templates with API keys", () => {
  let keyed: TestApp;
  beforeAll(async () => {
    keyed = await startTestApp({ AUTH_MODE: "keys" });
  });
  afterAll(async () => {
    await keyed?.close();
  });

  async function memberKey(name: string, role: "admin" | "member" = "member") {
    const user = await ensureUser(keyed.db, `${name}-${randomUUID().slice(0, 8)}`, role);
    const key = generateApiKey();
    await insertApiKey(keyed.db, {
      userId: user.id,
      name: "test",
      prefix: key.prefix,
      keyHash: key.hash,
    });
    const auth: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${key.key}`);
      return next(req);
    };
    return Object.assign(auth, { userName: user.name });
  }

  const templatesAs = (auth: Interceptor) =>
    createClient(
      TemplateService,
      createConnectTransport({ baseUrl: keyed.url, httpVersion: "1.1", interceptors: [auth] }),
    );
  const greeting = () => ({
    name: `greeting ${randomUUID().slice(0, 8)}`,
    prompt: "Hi {{vars.who}}",
    model: ECHO_MODEL,
    variables: [{ name: "who" }],
  });

  it("shares templates: another member lists, gets, previews and runs one, and sees who made it", async () => {
    const [alice, bob] = [await memberKey("alice"), await memberKey("bob")];
    const { template } = await templatesAs(alice).createTemplate(greeting());
    const id = template?.id ?? "";
    expect(template?.createdBy).toBe(alice.userName);

    const asBob = templatesAs(bob);
    expect((await asBob.getTemplate({ id })).template).toEqual(template);
    const listed = await asBob.listTemplates({ query: template?.name ?? "" });
    expect(listed.templates.map((t) => [t.id, t.createdBy])).toEqual([[id, alice.userName]]);
    expect(
      (await asBob.renderTemplate({ source: { case: "id", value: id }, vars: { who: "Bob" } }))
        .prompt,
    ).toBe("Hi Bob");
    const { task } = await asBob.runTemplate({ id, vars: { who: "Bob" } });
    expect(task?.status).not.toBe(TaskStatus.UNSPECIFIED);
  });

  it("lets only the creator or an admin update or delete a template; another member gets PermissionDenied", async () => {
    const [alice, bob, admin] = [
      await memberKey("alice"),
      await memberKey("bob"),
      await memberKey("admin", "admin"),
    ];
    const { template } = await templatesAs(alice).createTemplate(greeting());
    const id = template?.id ?? "";
    const asBob = templatesAs(bob);
    const refused = new RegExp(
      `template ${id} was created by ${alice.userName}; only its creator or an admin may change or delete it$`,
    );
    await expectConnectError(
      asBob.updateTemplate({
        template: { id, description: "bob was here" },
        updateMask: { paths: ["description"] },
      }),
      Code.PermissionDenied,
      refused,
    );
    await expectConnectError(asBob.deleteTemplate({ id }), Code.PermissionDenied, refused);
    expect((await asBob.getTemplate({ id })).template).toEqual(template);
    // A template that does not exist is NotFound for a member too, not PermissionDenied.
    await expectConnectError(
      asBob.deleteTemplate({ id: randomUUID() }),
      Code.NotFound,
      /not found/,
    );

    const byAlice = await templatesAs(alice).updateTemplate({
      template: { id, description: "mine" },
      updateMask: { paths: ["description"] },
    });
    expect(byAlice.template?.description).toBe("mine");
    const byAdmin = await templatesAs(admin).updateTemplate({
      template: { id, description: "tidied" },
      updateMask: { paths: ["description"] },
    });
    // An admin's edit does not make the template theirs.
    expect(byAdmin.template).toMatchObject({ description: "tidied", createdBy: alice.userName });
    await templatesAs(admin).deleteTemplate({ id });
    await expectConnectError(templatesAs(alice).getTemplate({ id }), Code.NotFound, /not found/);

    const own = await templatesAs(bob).createTemplate(greeting());
    await templatesAs(bob).deleteTemplate({ id: own.template?.id ?? "" });
  });

  it("gives the task to the member who ran the template", async () => {
    const transport = (auth: Interceptor) =>
      createConnectTransport({ baseUrl: keyed.url, httpVersion: "1.1", interceptors: [auth] });
    const [alice, bob] = [await memberKey("alice"), await memberKey("bob")];
    const templates = createClient(TemplateService, transport(alice));
    const { template } = await templates.createTemplate({
      name: "shared",
      prompt: "Hi {{vars.who}}",
      model: ECHO_MODEL,
      variables: [{ name: "who" }],
    });
    const { task } = await templates.runTemplate({ id: template?.id ?? "", vars: { who: "A" } });
    const id = task?.id ?? "";
    const done = await settled(createClient(TaskService, transport(alice)), id);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    await expectConnectError(
      createClient(TaskService, transport(bob)).getTask({ id }),
      Code.NotFound,
      /not found/,
    );
  });
});

describe("README: templates", () => {
  it("the documented snippet creates, previews and runs a template as written", async () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("### Templates")))?.[1];
    expect(code).toContain('baseUrl: "http://127.0.0.1:8080"');
    // Under server/, where its imports resolve; removed after.
    const file = `${new URL("..", import.meta.url).pathname}.readme-templates-${randomUUID()}.ts`;
    await writeFile(file, (code ?? "").replace("http://127.0.0.1:8080", app.url));
    try {
      const child = spawn(process.execPath, ["--import", "tsx", file], {
        cwd: new URL("..", import.meta.url).pathname,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      const exit = await new Promise((resolve) => child.once("close", resolve));
      expect(out).toMatch(/^Summarise RFC 9110 for engineers\n[0-9a-f-]{36} true\n$/);
      expect(exit).toBe(0);
    } finally {
      await rm(file, { force: true });
    }
  });
});
