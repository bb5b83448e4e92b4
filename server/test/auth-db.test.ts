import { randomUUID } from "node:crypto";
import { TaskService, TemplateService } from "@promptline/proto";
import { pino } from "pino";
import { describe, expect } from "vitest";
import { ruleFor } from "../src/auth/access.js";
import { AuthenticationError, Authenticator } from "../src/auth/authenticator.js";
import { generateApiKey, hashApiKey, isWellFormedKey, keyPrefix } from "../src/auth/keys.js";
import { LOCAL_USER } from "../src/auth/principal.js";
import { runKeys } from "../src/cli/keys.js";
import { ensureUser, findKeyByHash, insertApiKey, revokeApiKeys } from "../src/db/auth.js";
import { dbTest as test } from "./db-fixture.js";
import { waitFor } from "./harness.js";
import { insertTask, rejectionOf } from "./schema-helpers.js";

const silent = pino({ level: "silent" });

async function newKey(db: Parameters<typeof ensureUser>[0], role: "admin" | "member") {
  const user = await ensureUser(db, `user-${randomUUID().slice(0, 8)}`, role);
  const key = generateApiKey();
  const stored = await insertApiKey(db, {
    userId: user.id,
    name: "test",
    prefix: key.prefix,
    keyHash: key.hash,
  });
  return { user, key, id: stored.id };
}

describe("0002_auth", () => {
  test("the built-in local user is the admin the server uses in local mode", async ({ db }) => {
    const user = await db
      .selectFrom("users")
      .selectAll()
      .where("id", "=", LOCAL_USER.userId)
      .executeTakeFirstOrThrow();
    expect({ name: user.name, role: user.role }).toEqual({ name: "local", role: "admin" });
  });

  test("a task stored without an owner belongs to the local user", async ({ db }) => {
    const task = await insertTask(db);
    expect(task.owner_id).toBe(LOCAL_USER.userId);
  });

  test("an idempotency key is unique per owner, not across owners", async ({ db }) => {
    const alice = await ensureUser(db, `alice-${randomUUID().slice(0, 8)}`, "member");
    const key = `k-${randomUUID()}`;
    await insertTask(db, { idempotency_key: key });
    await insertTask(db, { idempotency_key: key, owner_id: alice.id });
    expect(await rejectionOf(insertTask(db, { idempotency_key: key }))).toMatchObject({
      constraint: "tasks_idempotency_key_key",
    });
  });

  test("keys are stored hashed: the secret itself is nowhere in the table", async ({ db }) => {
    const { key } = await newKey(db, "member");
    const rows = await db.selectFrom("api_keys").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key.key);
    expect(await findKeyByHash(db, hashApiKey(key.key))).toMatchObject({ prefix: key.prefix });
  });
});

describe("API keys", () => {
  test("a new key is 256 random bits with a short visible prefix", () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).not.toBe(b.key);
    expect(isWellFormedKey(a.key)).toBe(true);
    expect(a.prefix).toBe(keyPrefix(a.key));
    expect(a.prefix).toHaveLength(11);
    expect(a.hash).toBe(hashApiKey(a.key));
    expect(isWellFormedKey(`${a.key}x`)).toBe(false);
  });

  test("the authenticator accepts a key and refuses missing, malformed, unknown and revoked ones", async ({
    db,
  }) => {
    const auth = new Authenticator({ db, log: silent });
    const { user, key, id } = await newKey(db, "member");
    expect(await auth.authenticate(`Bearer ${key.key}`)).toEqual({
      userId: user.id,
      userName: user.name,
      role: "member",
      keyPrefix: key.prefix,
    });
    const refusal = async (header: string | null) => {
      const error = await rejectionOf(auth.authenticate(header));
      expect(error).toBeInstanceOf(AuthenticationError);
      return (error as Error).message;
    };
    expect(await refusal(null)).toMatch(/^missing API key/);
    expect(await refusal("Basic abc")).toMatch(/^malformed Authorization header/);
    expect(await refusal("Bearer nope")).toMatch(/^invalid API key: not a Promptline key/);
    expect(await refusal(`Bearer ${generateApiKey().key}`)).toMatch(/is not known$/);

    // Revoked before this process ever saw it: refused at once.
    const fresh = await newKey(db, "member");
    await revokeApiKeys(db, { id: fresh.id, prefix: fresh.key.prefix });
    expect(await refusal(`Bearer ${fresh.key.key}`)).toBe(
      `API key ${fresh.key.prefix}… has been revoked`,
    );
    // Revoked after use: refused once the short cache period is over.
    const quick = new Authenticator({ db, log: silent, cacheTtlMs: 50 });
    await quick.authenticate(`Bearer ${key.key}`);
    await revokeApiKeys(db, { id, prefix: key.prefix });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await rejectionOf(quick.authenticate(`Bearer ${key.key}`))).toBeInstanceOf(
      AuthenticationError,
    );
  });

  test("an unknown key is remembered as unknown for the cache period, then read again", async ({
    db,
  }) => {
    const auth = new Authenticator({ db, log: silent, cacheTtlMs: 200 });
    const { user } = await newKey(db, "member");
    const late = generateApiKey();
    const header = `Bearer ${late.key}`;
    expect((await rejectionOf(auth.authenticate(header))) as Error).toBeInstanceOf(
      AuthenticationError,
    );
    // Stored after it was refused (no real key can be, its secret is made
    // with its row): still refused from memory, without a read...
    await insertApiKey(db, {
      userId: user.id,
      name: "late",
      prefix: late.prefix,
      keyHash: late.hash,
    });
    expect((await rejectionOf(auth.authenticate(header))) as Error).toBeInstanceOf(
      AuthenticationError,
    );
    // ...until the period is over.
    await waitFor(() => auth.authenticate(header).catch(() => undefined), {
      timeoutMs: 2_000,
      what: "the unknown key to be read again",
    });
    expect(await auth.authenticate(header)).toMatchObject({
      userId: user.id,
      keyPrefix: late.prefix,
    });
  });

  test("a cached key costs no database read; last use is recorded", async ({ db }) => {
    const auth = new Authenticator({ db, log: silent, cacheTtlMs: 60_000 });
    const { key, id } = await newKey(db, "admin");
    await auth.authenticate(`Bearer ${key.key}`);
    // Deleting the row shows the next calls are answered from the cache.
    await db.deleteFrom("api_keys").where("id", "=", id).execute();
    await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(`Bearer ${key.key}`)));
  });
});

describe("access rules", () => {
  test("every TaskService RPC has a rule; one left out is for admins only", () => {
    const unlisted = TaskService.methods.filter(
      (m) => ruleFor(TaskService.typeName, m.localName).kind === "admin",
    );
    // The admin-only ones on purpose, and any RPC added since without a rule.
    expect(unlisted.map((m) => m.localName)).toEqual(
      expect.arrayContaining(["getQueueStats", "listWorkers"]),
    );
    for (const m of ["getTask", "cancelTask", "watchTask", "rerunTask", "createTask"]) {
      expect(ruleFor(TaskService.typeName, m).kind).toBe("owner");
    }
    expect(ruleFor(TaskService.typeName, "listTasks").kind).toBe("anyone");
    // Every TemplateService RPC is decided: none falls to the admin default.
    const undecided = TemplateService.methods.filter(
      (m) => ruleFor(TemplateService.typeName, m.localName).kind === "admin",
    );
    expect(undecided.map((m) => m.localName)).toEqual([]);
    for (const m of ["updateTemplate", "deleteTemplate"]) {
      expect(ruleFor(TemplateService.typeName, m).kind).toBe("templateCreator");
    }
  });
});

describe("promptline keys (in process)", () => {
  const io = (url: string) => {
    const out = { stdout: "", stderr: "" };
    return {
      out,
      io: {
        env: { DATABASE_URL: url },
        stdout: { write: (t: string) => (out.stdout += t) },
        stderr: { write: (t: string) => (out.stderr += t) },
      },
    };
  };

  test("usage mistakes exit 2 with the reason, and print no key", async ({ url }) => {
    for (const [args, message] of [
      [["create"], /needs --user <name> \(or --admin\)/],
      [["list", "--admin"], /keys list does not take --admin/],
      [["revoke"], /takes a key id or prefix/],
      [["rotate"], /unknown keys command "rotate"/],
      [["create", "--user", "bad name!"], /--user must be/],
      [["create", "--user", "local", "--admin"], /"local" is the built-in user/],
    ] as const) {
      const { io: cli, out } = io(url);
      expect(await runKeys(args, cli)).toBe(2);
      expect(out.stderr).toMatch(message);
      expect(out.stdout).toBe("");
    }
  });

  test("revoking a key that does not exist exits 1; --json prints the new key once", async ({
    url,
  }) => {
    const missing = io(url);
    expect(await runKeys(["revoke", "pl_nothere"], missing.io)).toBe(1);
    expect(missing.out.stderr).toMatch(/no key with id or prefix pl_nothere/);
    const made = io(url);
    expect(await runKeys(["create", "--user", "json-user", "--json"], made.io)).toBe(0);
    const created = JSON.parse(made.out.stdout) as { key: string; role: string; user: string };
    expect(created).toMatchObject({ role: "member", user: "json-user" });
    expect(isWellFormedKey(created.key)).toBe(true);
    const listed = io(url);
    await runKeys(["list", "--json"], listed.io);
    expect(listed.out.stdout).toContain(keyPrefix(created.key));
    expect(listed.out.stdout).not.toContain(created.key);
  });
});
