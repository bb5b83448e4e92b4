import type { Model } from "@promptline/proto";
import { formatContextLength } from "../../format";
import { ErrorNotice } from "../ErrorNotice";
import { Field, inputClass } from "../Field";
import { Skeleton } from "../Skeleton";

/** The simulator notice's exact words, which browser tests look for. */
export const SIMULATOR_NOTICE =
  "No NVIDIA_API_KEY set: tasks run on the built-in simulator, not a real LLM";

/** Props for {@link ModelPicker}. */
export interface ModelPickerProps {
  /** The control's id. */
  id: string;
  models: Model[];
  loading: boolean;
  loadError: unknown;
  onRetry: () => void;
  value: string;
  onChange: (id: string) => void;
  error: string | undefined;
}

/**
 * The model select with what is known about the chosen model, and a notice
 * when every model is simulated. A model the list doesn't have (copied from
 * an older task) stays selectable, marked, so the server can say why not.
 */
export function ModelPicker(props: ModelPickerProps) {
  const { id, models, loading, loadError, onRetry, value, onChange, error } = props;
  if (loading) {
    return (
      <div className="space-y-1.5" role="status" aria-label="Loading choices">
        <Skeleton className="h-4 w-16" />
        <Skeleton className="h-10 w-full" />
      </div>
    );
  }
  if (loadError !== undefined) {
    return <ErrorNotice error={loadError} context="Couldn't load the models" onRetry={onRetry} />;
  }
  const noModels = models.length === 0;
  const selected = models.find((m) => m.id === value);
  const unlisted = value !== "" && selected === undefined;
  const allSimulated = !noModels && models.every((m) => m.simulated);
  return (
    <div className="space-y-3">
      <Field
        id={id}
        label="Model"
        error={error}
        hint={
          noModels
            ? "No models are available. Check the server's provider settings."
            : selected !== undefined
              ? describeModel(selected)
              : unlisted
                ? "This server doesn't list this model."
                : undefined
        }
      >
        {(aria) => (
          <select
            {...aria}
            value={value}
            disabled={noModels}
            onChange={(e) => onChange(e.target.value)}
            className={inputClass}
          >
            {value === "" && <option value="">Choose a model</option>}
            {unlisted && <option value={value}>{value} · not available</option>}
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} · {m.provider} · {formatContextLength(m.contextLength)}
              </option>
            ))}
          </select>
        )}
      </Field>
      {allSimulated && (
        <p
          role="note"
          className="rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100"
        >
          {SIMULATOR_NOTICE}
        </p>
      )}
    </div>
  );
}

function describeModel(m: Model): string {
  const parts = [`Served by ${m.provider}`];
  if (m.ownedBy !== "" && m.ownedBy !== m.provider) parts.push(`owned by ${m.ownedBy}`);
  parts.push(formatContextLength(m.contextLength));
  if (m.simulated) parts.push("simulated");
  return parts.join(" · ");
}
