import { createRequire } from "node:module";
import type * as Axe from "axe-core";
import type { Page } from "playwright-core";
import { screenshot } from "./browser.js";

declare global {
  interface Window {
    axe?: typeof Axe;
  }
}

const AXE_SOURCE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Impacts that fail a test: a person is blocked or badly hindered. */
const FAILING: ReadonlySet<string> = new Set(["serious", "critical"]);

/** One violation, as a readable line: rule, impact, what to fix, and where. */
function describe(v: Axe.Result): string {
  const where = v.nodes
    .slice(0, 5)
    .map(
      (n) =>
        `    at ${n.target.join(" ")}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, " ")}` : ""}`,
    )
    .join("\n");
  return `  ${v.id} (${v.impact}): ${v.help} — ${v.helpUrl}\n${where}`;
}

/**
 * Runs axe-core in the page (WCAG 2.x A and AA rules and best practices) and
 * fails, listing every serious or critical violation with where it is, if
 * there are any. Transitions and animations are switched off first, so colour
 * contrast is measured on settled colours rather than mid-fade ones.
 */
export async function expectNoSeriousA11yViolations(page: Page, what = page.url()): Promise<void> {
  if (!(await page.evaluate(() => window.axe !== undefined))) {
    await page.addScriptTag({ path: AXE_SOURCE });
    await page.addStyleTag({
      content:
        "*, *::before, *::after { transition: none !important; animation: none !important; }",
    });
  }
  const violations = await page.evaluate(async () => {
    const axe = window.axe;
    if (axe === undefined) throw new Error("axe-core did not load");
    const results = await axe.run(document, {
      runOnly: {
        type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
      },
      resultTypes: ["violations"],
    });
    return results.violations;
  });
  const failing = violations.filter((v) => v.impact != null && FAILING.has(v.impact));
  if (failing.length > 0) {
    throw new Error(
      `${failing.length} serious accessibility violation(s) on ${what}:\n${failing.map(describe).join("\n")}`,
    );
  }
}

/**
 * Checks a page in light and then in dark, with a screenshot of each:
 * test-results/screenshots/<name>-light.png and <name>-dark.png. The theme is
 * picked with the header's theme switch where the page has one (the choice
 * is then remembered for the rest of the test's browser context), else by
 * the system colour scheme and a reload. Call it once the page shows what it
 * should; `ready`, if given, waits for that again after each switch.
 */
export async function checkPageInBothThemes(
  page: Page,
  name: string,
  ready?: () => Promise<unknown>,
): Promise<void> {
  const hasSwitch = (await page.getByRole("group", { name: "Theme" }).count()) > 0;
  for (const scheme of ["light", "dark"] as const) {
    if (hasSwitch) {
      await page.getByTitle(scheme === "light" ? "Light" : "Dark").click();
    } else {
      // No switch here: forget any choice made on another page, and let the system decide.
      await page.evaluate(() => localStorage.removeItem("promptline.theme"));
      await page.emulateMedia({ colorScheme: scheme });
      await page.reload();
    }
    await page.locator(`html[data-theme="${scheme}"]`).waitFor({ state: "attached" });
    await ready?.();
    await expectNoSeriousA11yViolations(page, `${name} (${scheme})`);
    // A full-page shot of a scrolled page draws the sticky header over the middle of it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, `${name}-${scheme}`);
  }
}
