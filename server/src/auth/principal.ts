import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { LOCAL_USER_ID } from "../db/auth.js";
import type { UserRole } from "../db/schema.js";

/** How callers are authenticated: API keys, or none (local mode, loopback only). */
export type AuthMode = "keys" | "local";

/** The caller of an RPC, as the auth interceptor established it. */
export interface Principal {
  userId: string;
  userName: string;
  role: UserRole;
  /** The key's visible prefix; undefined in local mode. */
  keyPrefix: string | undefined;
}

/** The built-in user of local mode (an admin); migration 0002_auth creates it. */
export const LOCAL_USER: Principal = {
  userId: LOCAL_USER_ID,
  userName: "local",
  role: "admin",
  keyPrefix: undefined,
};

/**
 * The authenticated caller, set by the auth interceptor before any handler
 * runs. Undefined only where no auth interceptor is installed (then tasks
 * belong to the local user, as in local mode).
 */
export const kPrincipal = createContextKey<Principal | undefined>(undefined, {
  description: "authenticated caller",
});

/** The owner to give tasks a request creates. */
export function ownerOf(ctx: HandlerContext): string {
  return (ctx.values.get(kPrincipal) ?? LOCAL_USER).userId;
}

/** The owner a list is limited to: the caller's own tasks for a member, undefined (all) for an admin. */
export function visibleOwner(ctx: HandlerContext): string | undefined {
  const principal = ctx.values.get(kPrincipal) ?? LOCAL_USER;
  return principal.role === "admin" ? undefined : principal.userId;
}
