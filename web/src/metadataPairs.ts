// Metadata as people type it, in the list's filter and the create form's labels.

const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `key:value` pairs separated by spaces or commas (`team:red area:search`),
 * as the list's metadata filter and the create form's labels are typed, and
 * as the address keeps them. Undefined when
 * a pair is not `key:value` or its key is not one a task can have.
 */
export function parseMetadataPairs(text: string): Record<string, string> | undefined {
  const pairs: Record<string, string> = {};
  for (const part of text.split(/[\s,]+/).filter((p) => p !== "")) {
    const colon = part.indexOf(":");
    const key = part.slice(0, colon);
    if (colon <= 0 || !METADATA_KEY.test(key)) return undefined;
    pairs[key] = part.slice(colon + 1);
  }
  return pairs;
}

/** The pairs as {@link parseMetadataPairs} reads them. */
export function formatMetadataPairs(pairs: Record<string, string>): string {
  return Object.entries(pairs)
    .map(([k, v]) => `${k}:${v}`)
    .join(" ");
}
