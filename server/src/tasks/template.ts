/**
 * Prompt references to upstream output and variables:
 * `{{parent.output}}`, `{{deps.<name>.output}}`, `{{vars.<name>}}`.
 * Checked when a task is created; rendered when it is dispatched, so a chain
 * can be created in one call before anything ran.
 */
export interface TemplateRefs {
  parent: boolean;
  deps: Set<string>;
  vars: Set<string>;
}

const REFERENCE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const NAME = "[A-Za-z_][A-Za-z0-9_]*";
const PARENT = /^parent\.output$/;
const DEP = new RegExp(`^deps\\.(${NAME})\\.output$`);
const VAR = new RegExp(`^vars\\.(${NAME})$`);

export const REFERENCE_NAME = new RegExp(`^${NAME}$`);

/** Every reference in `text`; throws with the first one that is not a reference we know. */
export function parseReferences(text: string): TemplateRefs {
  const refs: TemplateRefs = { parent: false, deps: new Set(), vars: new Set() };
  for (const match of text.matchAll(REFERENCE)) {
    const body = match[1] ?? "";
    if (PARENT.test(body)) {
      refs.parent = true;
      continue;
    }
    const dep = DEP.exec(body)?.[1];
    if (dep !== undefined) {
      refs.deps.add(dep);
      continue;
    }
    const variable = VAR.exec(body)?.[1];
    if (variable !== undefined) {
      refs.vars.add(variable);
      continue;
    }
    throw new UnknownReferenceError(match[0]);
  }
  return refs;
}

export class UnknownReferenceError extends Error {
  constructor(readonly reference: string) {
    super(
      `unknown reference ${reference}; use {{parent.output}}, {{deps.<name>.output}} or {{vars.<name>}}`,
    );
    this.name = "UnknownReferenceError";
  }
}

export function hasReferences(text: string): boolean {
  return text.includes("{{");
}

export interface RenderContext {
  parentOutput: string | undefined;
  deps: ReadonlyMap<string, string>;
  vars: Readonly<Record<string, string>>;
}

/** Replaces each reference with its value; a value missing at dispatch renders empty. */
export function render(text: string, context: RenderContext): string {
  return text.replace(REFERENCE, (whole, body: string) => {
    if (PARENT.test(body)) return context.parentOutput ?? "";
    const dep = DEP.exec(body)?.[1];
    if (dep !== undefined) return context.deps.get(dep) ?? "";
    const variable = VAR.exec(body)?.[1];
    if (variable !== undefined) return context.vars[variable] ?? "";
    return whole;
  });
}
