import { parseArgs } from "node:util";
import type { Kysely } from "kysely";
import { isUuid } from "../api/validation.js";
import { generateApiKey, keyPrefix } from "../auth/keys.js";
import { ConfigError, loadConfig } from "../config.js";
import {
  ensureUser,
  findUserByName,
  insertApiKey,
  LOCAL_USER_ID,
  listApiKeys,
  revokeApiKeys,
} from "../db/auth.js";
import { createPgliteDb, createPostgresDb } from "../db/connection.js";
import { migrateToLatest, reasonOf } from "../db/migrate.js";
import type { DB, UserRole } from "../db/schema.js";

export const KEYS_USAGE = `Usage: promptline keys <command> [options]

Manages API keys directly in the database (DATABASE_URL, or the embedded one
in PGLITE_DIR while the server is stopped); needs no key itself.

Commands:
  create [--admin] [--user <name>] [--name <label>]
                       a new key for the user (made if new: an admin with --admin,
                       else a member; --user defaults to "admin" with --admin).
                       Prints the key once; only its hash is stored.
  list                 every key: id, prefix, user, role, label, created, last used, revoked
  revoke <id|prefix>   stops a key (within seconds on every server)

Options:
  --json               print JSON
  -h, --help
`;

const OPTIONS = {
  admin: { type: "boolean" },
  user: { type: "string" },
  name: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** What `promptline keys …` needs from its caller. */
export interface KeysIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

class KeysUsageError extends Error {}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/** `promptline keys …`; resolves with the exit code (0 ok, 1 failed, 2 usage). */
export async function runKeys(argv: readonly string[], io: KeysIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return usage(io, message.split(". ")[0] ?? message);
  }
  const [command, ...args] = positionals;
  if (values.help === true || command === undefined) {
    io.stdout.write(KEYS_USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  let db: Kysely<DB>;
  try {
    checkUsage(command, args, values);
    db = await openDatabase(io.env);
  } catch (error) {
    if (error instanceof KeysUsageError) return usage(io, error.message);
    if (error instanceof ConfigError) {
      io.stderr.write(`promptline keys: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`promptline keys: cannot open the database: ${reasonOf(error)}\n`);
    return 1;
  }
  try {
    await migrateToLatest(db);
    switch (command) {
      case "create":
        return await create(db, io, values);
      case "list":
        return await list(db, io, values.json === true);
      default:
        return await revoke(db, io, args[0] ?? "", values.json === true);
    }
  } catch (error) {
    if (error instanceof KeysUsageError) return usage(io, error.message);
    io.stderr.write(`promptline keys: ${reasonOf(error)}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}

function checkUsage(
  command: string,
  args: string[],
  values: { admin?: boolean; user?: string; name?: string },
): void {
  if (!["create", "list", "revoke"].includes(command)) {
    throw new KeysUsageError(`unknown keys command ${JSON.stringify(command)}`);
  }
  const creating = command === "create";
  for (const flag of ["admin", "user", "name"] as const) {
    if (!creating && values[flag] !== undefined) {
      throw new KeysUsageError(`keys ${command} does not take --${flag}`);
    }
  }
  if (command === "revoke" ? args.length !== 1 : args.length !== 0) {
    throw new KeysUsageError(
      command === "revoke"
        ? "keys revoke takes a key id or prefix"
        : `keys ${command} takes no arguments`,
    );
  }
  if (creating && values.user === undefined && values.admin !== true) {
    throw new KeysUsageError("keys create needs --user <name> (or --admin)");
  }
}

async function openDatabase(env: KeysIo["env"]): Promise<Kysely<DB>> {
  const config = loadConfig(env);
  return config.databaseUrl === undefined
    ? createPgliteDb(config.pgliteDir)
    : createPostgresDb(config.databaseUrl, {
        applicationName: "promptline-keys",
        maxConnections: 2,
      });
}

async function create(
  db: Kysely<DB>,
  io: KeysIo,
  values: { admin?: boolean; user?: string; name?: string; json?: boolean },
): Promise<number> {
  const role: UserRole = values.admin === true ? "admin" : "member";
  const userName = values.user ?? "admin";
  if (!USER_NAME.test(userName)) {
    throw new KeysUsageError(
      "--user must be 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit",
    );
  }
  const existing = await findUserByName(db, userName);
  if (existing?.id === LOCAL_USER_ID) {
    throw new KeysUsageError('"local" is the built-in user of local mode; choose another --user');
  }
  if (existing !== undefined && existing.role !== role) {
    throw new KeysUsageError(
      `user ${userName} is ${existing.role === "admin" ? "an admin" : "a member"}; ${
        existing.role === "admin" ? "add --admin" : "leave out --admin"
      } to give it another key`,
    );
  }
  const user = existing ?? (await ensureUser(db, userName, role));
  const label = values.name ?? "";
  if (label.length > 200) throw new KeysUsageError("--name must be at most 200 characters");
  const key = generateApiKey();
  const stored = await insertApiKey(db, {
    userId: user.id,
    name: label,
    prefix: key.prefix,
    keyHash: key.hash,
  });
  if (values.json === true) {
    io.stdout.write(
      `${JSON.stringify({ id: stored.id, key: key.key, prefix: key.prefix, user: user.name, role: user.role, name: label })}\n`,
    );
  } else {
    io.stdout.write(`${key.key}\n`);
    io.stderr.write(
      `Created key ${key.prefix}… (id ${stored.id}) for ${user.name} (${user.role}). ` +
        "Keep it now: it is not stored and cannot be shown again.\n",
    );
  }
  return 0;
}

async function list(db: Kysely<DB>, io: KeysIo, json: boolean): Promise<number> {
  const keys = await listApiKeys(db);
  if (json) {
    for (const k of keys) io.stdout.write(`${JSON.stringify(k)}\n`);
    return 0;
  }
  const rows = [
    ["ID", "PREFIX", "USER", "ROLE", "NAME", "CREATED", "LAST USED", "REVOKED"],
    ...keys.map((k) => [
      k.id,
      `${k.prefix}…`,
      k.userName,
      k.role,
      k.name,
      k.createdAt.toISOString(),
      k.lastUsedAt?.toISOString() ?? "-",
      k.revokedAt?.toISOString() ?? "-",
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const row of rows) {
    io.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
  }
  return 0;
}

async function revoke(db: Kysely<DB>, io: KeysIo, target: string, json: boolean): Promise<number> {
  // A prefix as listed ("pl_Ab12Cd34…"), or a whole key pasted by mistake.
  const prefix = keyPrefix(target.replace(/…$/, ""));
  const matched = await db
    .transaction()
    .execute(async (trx) => {
      const found = await revokeApiKeys(trx, {
        id: isUuid(target) ? target : undefined,
        prefix,
      });
      // Two keys sharing a prefix (1 in 2^48) are not revoked together by accident.
      if (found.length > 1) throw new AmbiguousError(found.length);
      return found;
    })
    .catch((error: unknown) => {
      if (error instanceof AmbiguousError) {
        throw new KeysUsageError(`${target} matches ${error.count} keys; give the key id`);
      }
      throw error;
    });
  const key = matched[0];
  if (key === undefined) {
    io.stderr.write(`promptline keys: no key with id or prefix ${target}\n`);
    return 1;
  }
  if (json)
    io.stdout.write(`${JSON.stringify({ id: key.id, prefix: key.prefix, revoked: true })}\n`);
  else io.stdout.write(`revoked ${key.prefix}… (id ${key.id})\n`);
  return 0;
}

class AmbiguousError extends Error {
  constructor(readonly count: number) {
    super(`${count} keys match`);
  }
}

function usage(io: KeysIo, message: string): number {
  io.stderr.write(`promptline keys: ${message}\nRun "promptline keys --help" for the commands.\n`);
  return 2;
}
