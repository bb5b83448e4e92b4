import type { Template } from "@promptline/proto";
import { Panel } from "../Panel";

/**
 * The template as stored, read-only: for someone who may run it but not
 * edit it, so they still see what it sends.
 */
export function TemplateContents({ template }: { template: Template }) {
  const p = template.params;
  const entries: Array<[string, number | bigint | string | undefined]> = [
    ["temperature", p?.temperature],
    ["top_p", p?.topP],
    ["max_tokens", p?.maxTokens],
    ["seed", p?.seed],
    ["stop", p?.stop.length ? p.stop.map((s) => JSON.stringify(s)).join(", ") : undefined],
  ];
  const params = entries.filter((entry) => entry[1] !== undefined);
  return (
    <Panel title="Template">
      <dl className="space-y-4 text-sm">
        <div>
          <dt className="font-medium">Model</dt>
          <dd className="font-mono">{template.model}</dd>
        </div>
        {template.systemPrompt !== "" && (
          <div>
            <dt className="font-medium">System prompt</dt>
            <dd>
              <pre className="mt-1 whitespace-pre-wrap break-words rounded-lg bg-sunken p-3 font-mono text-xs">
                {template.systemPrompt}
              </pre>
            </dd>
          </div>
        )}
        <div>
          <dt className="font-medium">Prompt</dt>
          <dd>
            <pre className="mt-1 whitespace-pre-wrap break-words rounded-lg bg-sunken p-3 font-mono text-xs">
              {template.prompt}
            </pre>
          </dd>
        </div>
        {params.length > 0 && (
          <div>
            <dt className="font-medium">Parameters</dt>
            <dd className="font-mono text-xs">
              {params.map(([name, value]) => `${name} ${String(value)}`).join(" · ")}
            </dd>
          </div>
        )}
      </dl>
    </Panel>
  );
}
