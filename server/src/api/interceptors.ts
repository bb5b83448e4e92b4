import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import { UnknownModelError } from "../llm/providers.js";
import {
  AlreadyExistsError,
  InvalidFieldError,
  TaskNotFoundError,
  TaskStateError,
} from "../tasks/errors.js";
import { StaleTemplateError, TemplateNotFoundError } from "../templates/errors.js";
import { kLog, kRequestId } from "./context.js";

const REQUEST_ID_HEADER = "x-request-id";
const ACCEPTABLE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Takes the caller's x-request-id (or makes one), hands it to handlers via
 * context, and echoes it on the response and on errors. With `log`, it also
 * puts a logger bound to the id and the method in context ({@link kLog}), so
 * every line written about the request carries its id.
 */
export function requestIdInterceptor(log?: Logger): Interceptor {
  return (next) => async (req) => {
    const given = req.header.get(REQUEST_ID_HEADER);
    const id = given !== null && ACCEPTABLE_REQUEST_ID.test(given) ? given : uuidv7();
    req.contextValues.set(kRequestId, id);
    if (log !== undefined) {
      req.contextValues.set(
        kLog,
        log.child({ requestId: id, rpc: `${req.service.typeName}/${req.method.name}` }),
      );
    }
    try {
      const res = await next(req);
      res.header.set(REQUEST_ID_HEADER, id);
      return res;
    } catch (error) {
      const connectError = ConnectError.from(error);
      connectError.metadata.set(REQUEST_ID_HEADER, id);
      throw connectError;
    }
  };
}

/** True for errors that mean PostgreSQL or Redis is out of reach, not that the request is bad. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = "code" in error ? error.code : undefined;
  if (typeof code === "string") {
    if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(code))
      return true;
    // SQLSTATE classes 08 (connection exception), 57P0x (server shutting down), 53 (resources).
    if (/^08|^57P0|^53/.test(code)) return true;
  }
  return (
    error.name === "MaxRetriesPerRequestError" ||
    /Connection (is )?(closed|terminated)|enableOfflineQueue|timeout exceeded when trying to connect/i.test(
      error.message,
    )
  );
}

/**
 * Maps domain errors to Connect codes a client can act on. Anything unknown
 * becomes Internal with the request id; its cause is logged here, because
 * Connect itself does not log, and never sent to the client.
 */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const requestId = req.contextValues.get(kRequestId);
    // The request's own logger (id and method bound) when the request-id interceptor made one.
    const given = req.contextValues.get(kLog);
    const requestLog =
      given === kLog.defaultValue
        ? log.child({ requestId, rpc: `${req.service.typeName}/${req.method.name}` })
        : given;
    const map = (error: unknown) => toConnectError(error, requestLog, requestId);
    try {
      const res = await next(req);
      // A server stream fails while it is read, after next() returned.
      return res.stream ? { ...res, message: mapStreamErrors(res.message, map) } : res;
    } catch (error) {
      throw map(error);
    }
  };
}

async function* mapStreamErrors<T>(
  messages: AsyncIterable<T>,
  map: (error: unknown) => ConnectError,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}

function toConnectError(error: unknown, log: Logger, requestId: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof InvalidFieldError)
    return new ConnectError(error.message, Code.InvalidArgument);
  if (error instanceof UnknownModelError) {
    return new ConnectError(`model: ${error.message}`, Code.InvalidArgument);
  }
  if (error instanceof TaskNotFoundError || error instanceof TemplateNotFoundError) {
    return new ConnectError(error.message, Code.NotFound);
  }
  if (error instanceof StaleTemplateError) return new ConnectError(error.message, Code.Aborted);
  if (error instanceof TaskStateError)
    return new ConnectError(error.message, Code.FailedPrecondition);
  if (error instanceof AlreadyExistsError) {
    return new ConnectError(error.message, Code.AlreadyExists);
  }
  if (isUnavailable(error)) {
    log.warn({ err: error }, "dependency unavailable");
    return new ConnectError(
      "a backing service (database or queue) is unavailable; retry later",
      Code.Unavailable,
    );
  }
  log.error({ err: error }, "unhandled error");
  return new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
}
