import { describe, expect, it } from "vitest";
import { readPreference, resolveTheme, THEME_STORAGE_KEY } from "./theme";

const storageWith = (value: string | null) => ({
  getItem: (key: string) => (key === THEME_STORAGE_KEY ? value : null),
});

describe("readPreference", () => {
  it("reads a remembered choice", () => {
    expect(readPreference(storageWith("dark"))).toBe("dark");
    expect(readPreference(storageWith("light"))).toBe("light");
  });

  it("follows the system when nothing valid is remembered or storage is off limits", () => {
    expect(readPreference(storageWith(null))).toBe("system");
    expect(readPreference(storageWith("purple"))).toBe("system");
    expect(readPreference(undefined)).toBe("system");
    const throwing = {
      getItem: (): string | null => {
        throw new DOMException("denied", "SecurityError");
      },
    };
    expect(readPreference(throwing)).toBe("system");
  });
});

describe("resolveTheme", () => {
  it("uses the system's setting only when asked to", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });
});
