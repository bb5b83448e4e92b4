import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { findKeyByHash, touchKey } from "../db/auth.js";
import type { DB } from "../db/schema.js";
import { hashApiKey, isWellFormedKey, keyPrefix } from "./keys.js";
import type { Principal } from "./principal.js";

/** Why a presented credential was refused; the message is safe to send back. */
export class AuthenticationError extends Error {
  override readonly name = "AuthenticationError";
}

export interface AuthenticatorOptions {
  db: Kysely<DB>;
  log: Logger;
  /**
   * How long a looked-up key is trusted without asking the database again.
   * Revoking a key takes effect in every process within this time.
   */
  cacheTtlMs?: number;
  /** Keys remembered at most; the oldest go first. */
  cacheSize?: number;
}

type Lookup = { principal: Principal } | { revoked: string };

/** Default of {@link AuthenticatorOptions.cacheTtlMs}. */
export const KEY_CACHE_TTL_MS = 5_000;

/**
 * Turns an `Authorization` header into a {@link Principal}. A key is looked
 * up by its hash, and what was found (a user, that the key is revoked, or
 * that no such key exists) is kept for a few seconds, so a busy client costs
 * one database read per key per process per period, not one per call, even
 * one misconfigured with a wrong key. Remembering a key as unknown delays no
 * real key: a key's secret exists only once its row is stored. Unknown keys
 * are kept apart, so many of them cannot push real ones out.
 */
export class Authenticator {
  readonly #db: Kysely<DB>;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #size: number;
  readonly #cache = new Map<string, { value: Lookup; until: number }>();
  /** Hashes no key has, and until when that is trusted. */
  readonly #unknown = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<Lookup | undefined>>();

  constructor(options: AuthenticatorOptions) {
    this.#db = options.db;
    this.#log = options.log;
    this.#ttlMs = options.cacheTtlMs ?? KEY_CACHE_TTL_MS;
    this.#size = options.cacheSize ?? 10_000;
  }

  /** The caller behind an `Authorization` header value; throws {@link AuthenticationError}. */
  async authenticate(authorization: string | null): Promise<Principal> {
    if (authorization === null || authorization.trim() === "") {
      throw new AuthenticationError(
        'missing API key: send "Authorization: Bearer <key>" (create one with `pnpm promptline keys create`)',
      );
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match?.[1] === undefined) {
      throw new AuthenticationError('malformed Authorization header: expected "Bearer <key>"');
    }
    const key = match[1];
    if (!isWellFormedKey(key)) {
      throw new AuthenticationError("invalid API key: not a Promptline key (pl_…)");
    }
    const hash = hashApiKey(key);
    const found = await this.#lookup(hash);
    if (found === undefined) {
      throw new AuthenticationError(`invalid API key: ${keyPrefix(key)}… is not known`);
    }
    if ("revoked" in found) {
      throw new AuthenticationError(`API key ${found.revoked}… has been revoked`);
    }
    return found.principal;
  }

  async #lookup(hash: string): Promise<Lookup | undefined> {
    const now = Date.now();
    const cached = this.#cache.get(hash);
    if (cached !== undefined && cached.until > now) return cached.value;
    if ((this.#unknown.get(hash) ?? 0) > now) return undefined;
    // Concurrent first calls with one key share a single read.
    let pending = this.#inFlight.get(hash);
    if (pending === undefined) {
      pending = this.#read(hash).finally(() => this.#inFlight.delete(hash));
      this.#inFlight.set(hash, pending);
    }
    return pending;
  }

  async #read(hash: string): Promise<Lookup | undefined> {
    const row = await findKeyByHash(this.#db, hash);
    if (row === undefined) {
      this.#cache.delete(hash);
      remember(this.#unknown, hash, Date.now() + this.#ttlMs, this.#size);
      return undefined;
    }
    this.#unknown.delete(hash);
    const value: Lookup = row.revoked
      ? { revoked: row.prefix }
      : {
          principal: {
            userId: row.userId,
            userName: row.userName,
            role: row.role,
            keyPrefix: row.prefix,
          },
        };
    remember(this.#cache, hash, { value, until: Date.now() + this.#ttlMs }, this.#size);
    if (!row.revoked) {
      // Best effort, off the request's path: last use is known to within the cache period.
      touchKey(this.#db, row.keyId).catch((err: unknown) =>
        this.#log.debug({ err }, "could not record an API key's last use"),
      );
    }
    return value;
  }
}

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond `size`. */
function remember<V>(map: Map<string, V>, key: string, value: V, size: number): void {
  map.delete(key);
  if (map.size >= size) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}
