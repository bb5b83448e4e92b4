import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Health } from "@promptline/proto";
import type { Kysely } from "kysely";
import { kLog } from "../api/context.js";
import { isLoopback } from "../config.js";
import type { DB } from "../db/schema.js";
import { checkAccess, PermissionError } from "./access.js";
import { AuthenticationError, type Authenticator } from "./authenticator.js";
import { kPrincipal, LOCAL_USER, type Principal } from "./principal.js";

export interface AuthInterceptorOptions {
  /** `local`: every call is the built-in local admin; `keys`: a Bearer key is required. */
  mode: "keys" | "local";
  authenticator: Authenticator;
  db: Kysely<DB>;
}

/**
 * Authenticates every RPC on every protocol except `grpc.health.v1`
 * (probes carry no credentials), puts the caller in context
 * ({@link kPrincipal}) and on the request's log lines, and enforces who may
 * call what on which task (see access.ts). Runs inside the error
 * interceptor, so a database that is down answers Unavailable here too.
 */
export function authInterceptor(options: AuthInterceptorOptions): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName === Health.typeName) return next(req);
    if (options.mode === "local") {
      // A web page elsewhere can point its own host name at 127.0.0.1 (DNS
      // rebinding) and call as same-origin; only a loopback Host is this machine.
      const host = new URL(req.url).hostname;
      if (!isLoopback(host)) {
        throw new ConnectError(
          `local mode answers only requests addressed to this machine (localhost, 127.0.0.1, [::1]), not ${host}; use AUTH_MODE=keys`,
          Code.PermissionDenied,
        );
      }
      // Nothing else to check or log: every caller is the local admin.
      req.contextValues.set(kPrincipal, LOCAL_USER);
      return next(req);
    }
    let principal: Principal;
    try {
      principal = await options.authenticator.authenticate(req.header.get("authorization"));
    } catch (error) {
      if (error instanceof AuthenticationError) {
        throw new ConnectError(error.message, Code.Unauthenticated);
      }
      throw error;
    }
    req.contextValues.set(kPrincipal, principal);
    req.contextValues.set(kLog, req.contextValues.get(kLog).child({ user: principal.userName }));
    // An admin may call anything on any task; only its creates are looked at
    // (for the one-owner-per-chain rule), and those are never streams.
    if (principal.role === "admin" && req.stream) return next(req);

    // A server stream's one request message comes as an iterable; read it
    // for the check and hand the handler an iterable of it again.
    let message: unknown;
    let checked = req;
    if (req.stream) {
      const first = await firstMessage(req.message);
      message = first;
      checked = { ...req, message: once(first) };
    } else {
      message = req.message;
    }
    try {
      await checkAccess(options.db, principal, {
        service: req.service.typeName,
        method: req.method.localName,
        rpc: `${req.service.typeName}/${req.method.name}`,
        message,
      });
    } catch (error) {
      if (error instanceof PermissionError) {
        throw new ConnectError(error.message, Code.PermissionDenied);
      }
      throw error;
    }
    return next(checked);
  };
}

async function firstMessage<T>(messages: AsyncIterable<T>): Promise<T | undefined> {
  for await (const message of messages) return message;
  return undefined;
}

async function* once<T>(message: T | undefined): AsyncIterable<T> {
  if (message !== undefined) yield message;
}
