import { createHash, randomBytes } from "node:crypto";

/** Every key starts with this, so a leaked one is recognizable (and scrubbed from logs). */
export const KEY_PREFIX = "pl_";
/** Characters after {@link KEY_PREFIX} kept in the clear, to tell keys apart in a list. */
const VISIBLE_CHARS = 8;
/** `pl_` and 43 base64url characters (256 random bits). */
const KEY_SHAPE = /^pl_[A-Za-z0-9_-]{43}$/;

/** A new API key: the secret (shown once), what is stored of it, and what is shown later. */
export interface NewApiKey {
  key: string;
  hash: string;
  prefix: string;
}

export function generateApiKey(): NewApiKey {
  const key = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { key, hash: hashApiKey(key), prefix: keyPrefix(key) };
}

/** SHA-256, hex: keys are random, so no salt or slow hash is needed (nothing to guess). */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function keyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + VISIBLE_CHARS);
}

/** True when `key` has the shape of a key this server makes; anything else is refused unread. */
export function isWellFormedKey(key: string): boolean {
  return KEY_SHAPE.test(key);
}

/** Matches keys inside any text, for the log scrubber. */
export const API_KEY_PATTERN = /\bpl_[A-Za-z0-9_-]{43}/g;
