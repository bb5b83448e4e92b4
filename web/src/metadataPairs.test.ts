import { describe, expect, it } from "vitest";
import { formatMetadataPairs, parseMetadataPairs } from "./metadataPairs";

describe("metadata pairs", () => {
  it("reads key:value pairs separated by spaces or commas, values may hold colons", () => {
    expect(parseMetadataPairs("team:red, area:search  url:http://x")).toEqual({
      team: "red",
      area: "search",
      url: "http://x",
    });
    expect(parseMetadataPairs("")).toEqual({});
    expect(formatMetadataPairs({ team: "red", area: "" })).toBe("team:red area:");
  });

  it("refuses a pair without a key or with a key a task can't have", () => {
    expect(parseMetadataPairs("team")).toBeUndefined();
    expect(parseMetadataPairs(":red")).toBeUndefined();
    expect(parseMetadataPairs("te/am:red")).toBeUndefined();
  });
});
