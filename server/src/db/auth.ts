import { type Kysely, sql } from "kysely";
import type { DB, UserRole, UserRow } from "./schema.js";

/** The built-in admin of local mode, made by migration 0002_auth; unowned tasks are its. */
export const LOCAL_USER_ID = "00000000-0000-0000-0000-000000000000";

/** What an API key lookup needs: the key's id and state, and its user. */
export interface KeyOwner {
  keyId: string;
  prefix: string;
  revoked: boolean;
  userId: string;
  userName: string;
  role: UserRole;
}

/** The key stored under `keyHash`, with its user; undefined for an unknown key. */
export async function findKeyByHash(
  db: Kysely<DB>,
  keyHash: string,
): Promise<KeyOwner | undefined> {
  const row = await db
    .selectFrom("api_keys as k")
    .innerJoin("users as u", "u.id", "k.user_id")
    .select(["k.id", "k.prefix", "k.revoked_at", "u.id as user_id", "u.name", "u.role"])
    .where("k.key_hash", "=", keyHash)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    keyId: row.id,
    prefix: row.prefix,
    revoked: row.revoked_at !== null,
    userId: row.user_id,
    userName: row.name,
    role: row.role,
  };
}

/** Records that a key was used; called at most once per cache period, not per call. */
export async function touchKey(db: Kysely<DB>, keyId: string): Promise<void> {
  await db
    .updateTable("api_keys")
    .set({ last_used_at: sql<Date>`now()` })
    .where("id", "=", keyId)
    .execute();
}

export async function findUserByName(db: Kysely<DB>, name: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("name", "=", name).executeTakeFirst();
}

/** Creates the user, or returns the one of that name (whatever its role) if it exists. */
export async function ensureUser(db: Kysely<DB>, name: string, role: UserRole): Promise<UserRow> {
  await db
    .insertInto("users")
    .values({ name, role })
    .onConflict((oc) => oc.constraint("users_name_key").doNothing())
    .execute();
  const user = await findUserByName(db, name);
  if (user === undefined) throw new Error(`user ${name} vanished after it was stored`);
  return user;
}

export async function insertApiKey(
  db: Kysely<DB>,
  key: { userId: string; name: string; prefix: string; keyHash: string },
): Promise<{ id: string; created_at: Date }> {
  return db
    .insertInto("api_keys")
    .values({ user_id: key.userId, name: key.name, prefix: key.prefix, key_hash: key.keyHash })
    .returning(["id", "created_at"])
    .executeTakeFirstOrThrow();
}

/** A key as listed: never its hash. */
export interface ApiKeyListing {
  id: string;
  prefix: string;
  name: string;
  userName: string;
  role: UserRole;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export async function listApiKeys(db: Kysely<DB>): Promise<ApiKeyListing[]> {
  const rows = await db
    .selectFrom("api_keys as k")
    .innerJoin("users as u", "u.id", "k.user_id")
    .select([
      "k.id",
      "k.prefix",
      "k.name",
      "u.name as user_name",
      "u.role",
      "k.created_at",
      "k.last_used_at",
      "k.revoked_at",
    ])
    .orderBy("k.created_at")
    .orderBy("k.id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    name: r.name,
    userName: r.user_name,
    role: r.role,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

/**
 * Revokes the keys whose id is `idOrPrefix` or whose prefix is; returns
 * what matched (revoked now or before), so a caller can tell none from many.
 */
export async function revokeApiKeys(
  db: Kysely<DB>,
  match: { id: string | undefined; prefix: string },
): Promise<Array<{ id: string; prefix: string }>> {
  return db
    .updateTable("api_keys")
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where((eb) =>
      match.id === undefined
        ? eb("prefix", "=", match.prefix)
        : eb.or([eb("id", "=", match.id), eb("prefix", "=", match.prefix)]),
    )
    .returning(["id", "prefix"])
    .execute();
}

/** Which of `ids` are tasks owned by someone other than `ownerId`. */
export async function tasksOwnedByOthers(
  db: Kysely<DB>,
  ids: readonly string[],
  ownerId: string,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom("tasks")
    .select("id")
    .where("id", "in", ids)
    .where("owner_id", "<>", ownerId)
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** How many usable (not revoked) keys exist; the start-up log hints at the CLI when none. */
export async function countActiveKeys(db: Kysely<DB>): Promise<number> {
  const row = await db
    .selectFrom("api_keys")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("revoked_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
