/** What a person chose: follow the operating system, or always light / dark. */
export type ThemePreference = "system" | "light" | "dark";

/** The look actually shown. */
export type Theme = "light" | "dark";

/** Where the choice is remembered; index.html reads the same key before first paint. */
export const THEME_STORAGE_KEY = "promptline.theme";

export const THEME_PREFERENCES: readonly ThemePreference[] = ["system", "light", "dark"];

function isPreference(value: unknown): value is ThemePreference {
  return THEME_PREFERENCES.some((p) => p === value);
}

/** The remembered choice; "system" when none (or storage is off limits). */
export function readPreference(storage: Pick<Storage, "getItem"> | undefined): ThemePreference {
  try {
    const stored = storage?.getItem(THEME_STORAGE_KEY);
    return isPreference(stored) ? stored : "system";
  } catch {
    return "system";
  }
}

/** The look a choice gives, given whether the system asks for dark. */
export function resolveTheme(preference: ThemePreference, systemDark: boolean): Theme {
  if (preference === "system") return systemDark ? "dark" : "light";
  return preference;
}

/**
 * The page's theme: the choice, remembered in localStorage, applied as
 * `data-theme` on <html> (styles.css keys its tokens and Tailwind's `dark:`
 * variant on it), and following the system live while the choice is "system".
 */
export interface ThemeStore {
  set(preference: ThemePreference): void;
  /** Called on a new choice, and on a system change while following the system. */
  subscribe(listener: () => void): () => void;
  getSnapshot(): ThemePreference;
  /** The look shown now. */
  getTheme(): Theme;
}

/** Makes the {@link ThemeStore} for this window and applies the remembered choice at once. */
export function createThemeStore(win: Window = window): ThemeStore {
  const media = win.matchMedia("(prefers-color-scheme: dark)");
  const listeners = new Set<() => void>();
  let preference = readPreference(win.localStorage);
  const apply = () => {
    win.document.documentElement.dataset.theme = resolveTheme(preference, media.matches);
    for (const listener of listeners) listener();
  };
  media.addEventListener("change", apply);
  apply();
  return {
    set(next) {
      preference = next;
      try {
        if (next === "system") win.localStorage.removeItem(THEME_STORAGE_KEY);
        else win.localStorage.setItem(THEME_STORAGE_KEY, next);
      } catch {
        // Private mode without storage: the choice lasts for this page only.
      }
      apply();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: () => preference,
    getTheme: () => resolveTheme(preference, media.matches),
  };
}
