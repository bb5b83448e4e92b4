import { createHash } from "node:crypto";
import { type DescMessage, type JsonValue, type MessageShape, toJson } from "@bufbuild/protobuf";

/**
 * What an idempotency key is checked against: the sha256 (hex) of a request
 * without its `idempotency_key` field. The request's proto JSON form, with
 * object keys sorted, is the canonical text: fields at their default are left
 * out (so unset and zero hash alike), map entries are in key order whatever
 * order they arrived in, and the wire protocol the request came over does not
 * matter. Call it on a validated request only; proto JSON refuses some
 * malformed values (e.g. a Timestamp's nanos out of range).
 */
export function requestHash<Desc extends DescMessage>(
  schema: Desc,
  request: MessageShape<Desc>,
): string {
  const json = toJson(schema, request);
  if (isObject(json)) delete json.idempotencyKey;
  return createHash("sha256").update(canonicalJson(json)).digest("hex");
}

function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .flatMap((key) => {
        const v = value[key];
        return v === undefined ? [] : [`${JSON.stringify(key)}:${canonicalJson(v)}`];
      });
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

function isObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
