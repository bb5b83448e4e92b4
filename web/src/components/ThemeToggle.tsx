import { useSyncExternalStore } from "react";
import { createThemeStore, THEME_PREFERENCES, type Theme, type ThemePreference } from "../theme";

/** The one theme store of the page, created when the app's frame first loads. */
const theme = createThemeStore();

/** The look shown now ("light" or "dark"), for components that draw their own colours. */
export function useTheme(): Theme {
  return useSyncExternalStore(theme.subscribe, theme.getTheme);
}

const labels: Record<ThemePreference, string> = {
  system: "System",
  light: "Light",
  dark: "Dark",
};

const icons: Record<ThemePreference, string> = {
  // A monitor, a sun and a moon (24×24, stroked).
  system: "M4 5h16v11H4zM8 20h8M12 16v4",
  light:
    "M12 7a5 5 0 1 0 0 10a5 5 0 1 0 0-10zM12 1v2M12 21v2M4.2 4.2l1.4 1.4M18.4 18.4l1.4 1.4M1 12h2M21 12h2M4.2 19.8l1.4-1.4M18.4 5.6l1.4-1.4",
  dark: "M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z",
};

/**
 * Three radio buttons — system, light, dark — so the choice is one Tab stop
 * and arrow keys move between them, as with any radio group.
 */
export function ThemeToggle() {
  const preference = useSyncExternalStore(theme.subscribe, theme.getSnapshot);
  return (
    <fieldset className="flex items-center rounded-lg border border-line p-0.5">
      <legend className="sr-only">Theme</legend>
      {THEME_PREFERENCES.map((p) => (
        <label
          key={p}
          title={labels[p]}
          className="relative flex size-7 cursor-pointer items-center justify-center rounded-md text-fg-muted hover:text-fg has-checked:bg-sunken has-checked:text-fg has-focus-visible:outline-2 has-focus-visible:outline-focus"
        >
          <input
            type="radio"
            name="theme"
            value={p}
            checked={preference === p}
            onChange={() => theme.set(p)}
            className="peer sr-only"
          />
          <svg
            aria-hidden="true"
            viewBox="0 0 24 24"
            className="size-4"
            fill="none"
            stroke="currentColor"
            strokeWidth="2"
            strokeLinecap="round"
            strokeLinejoin="round"
          >
            <path d={icons[p]} />
          </svg>
          <span className="sr-only">{labels[p]}</span>
        </label>
      ))}
    </fieldset>
  );
}
