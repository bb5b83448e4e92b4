import type { TemplateVariableJson } from "../db/templates.js";
import { InvalidFieldError } from "../tasks/errors.js";
import { render } from "../tasks/template.js";

/** The parts of a template that render. */
export interface RenderableTemplate {
  prompt: string;
  systemPrompt: string;
  variables: readonly TemplateVariableJson[];
}

/**
 * Each variable's value: the one given, else its default. A required
 * variable without a value, or a value for a variable the template does not
 * have, is refused naming it.
 */
export function resolveVars(
  template: Pick<RenderableTemplate, "variables">,
  given: Readonly<Record<string, string>>,
): Record<string, string> {
  const declared = new Set(template.variables.map((v) => v.name));
  for (const name of Object.keys(given)) {
    if (!declared.has(name)) fail(`vars.${name}`, "the template has no variable of that name");
  }
  const values: Record<string, string> = {};
  for (const variable of template.variables) {
    const value = given[variable.name] ?? variable.default;
    if (value === undefined) {
      fail(`vars.${variable.name}`, `is required: the template uses {{vars.${variable.name}}}`);
    }
    values[variable.name] = value;
  }
  return values;
}

/** The prompts as a task made from the template would send them (the same renderer as dispatch). */
export function renderTemplate(
  template: RenderableTemplate,
  given: Readonly<Record<string, string>>,
): { prompt: string; systemPrompt: string } {
  const context = {
    parentOutput: undefined,
    deps: new Map<string, string>(),
    vars: resolveVars(template, given),
  };
  return {
    prompt: render(template.prompt, context),
    systemPrompt: render(template.systemPrompt, context),
  };
}

function fail(field: string, reason: string): never {
  throw new InvalidFieldError(field, reason);
}
