import { useQuery } from "@connectrpc/connect-query";
import { TaskPriority, TaskService, type TaskSort, type TaskStatus } from "@promptline/proto";
import { useEffect, useId, useRef, useState } from "react";
import { formatCount, PRIORITIES, priorityLabel, STATUSES, statusLabel } from "../../format";
import { type ListView, rangeIsBackwards, SORTS } from "../../listView";
import { formatMetadataPairs, parseMetadataPairs } from "../../metadataPairs";
import { Button } from "../Button";
import { inputClass } from "../Field";

const SEARCH_DEBOUNCE_MS = 300;

/** Props for {@link ListFilters}. */
export interface ListFiltersProps {
  view: ListView;
  onChange: (next: Partial<ListView>) => void;
  /** Matching tasks per status (ignoring the status filter); undefined while unknown. */
  counts: ReadonlyMap<TaskStatus, number> | undefined;
  filtered: boolean;
  onClear: () => void;
}

/**
 * Everything that narrows or orders the list: status chips with counts, a
 * search box, model, priority, a creation date range and the sort order.
 */
export function ListFilters({ view, onChange, counts, filtered, onClear }: ListFiltersProps) {
  const ids = {
    model: useId(),
    priority: useId(),
    from: useId(),
    to: useId(),
    sort: useId(),
  };
  const models = useQuery(TaskService.method.listModels, {});
  const modelIds = (models.data?.models ?? []).map((m) => m.id);
  // A model from a shared link stays choosable even if this server no longer lists it.
  if (view.model !== "" && !modelIds.includes(view.model)) modelIds.unshift(view.model);
  const backwards = rangeIsBackwards(view);
  const label = "mb-1 block text-xs font-medium text-fg-muted";
  return (
    <div className="mb-4 space-y-3">
      <div className="flex flex-col gap-3 lg:flex-row lg:items-center lg:justify-between">
        <StatusFilter
          selected={view.statuses}
          counts={counts}
          onChange={(statuses) => onChange({ statuses })}
        />
        <SearchBox value={view.query} onChange={(query) => onChange({ query })} />
      </div>
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-[repeat(3,minmax(0,11rem))_repeat(3,minmax(0,12rem))] lg:items-start">
        <div>
          <label htmlFor={ids.model} className={label}>
            Model
          </label>
          <select
            id={ids.model}
            value={view.model}
            onChange={(e) => onChange({ model: e.target.value })}
            className={inputClass}
          >
            <option value="">All models</option>
            {modelIds.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={ids.priority} className={label}>
            Priority
          </label>
          <select
            id={ids.priority}
            value={view.priority === TaskPriority.UNSPECIFIED ? "" : priorityLabel(view.priority)}
            onChange={(e) =>
              onChange({
                priority:
                  PRIORITIES.find((p) => priorityLabel(p) === e.target.value) ??
                  TaskPriority.UNSPECIFIED,
              })
            }
            className={inputClass}
          >
            <option value="">All priorities</option>
            {[...PRIORITIES].reverse().map((p) => (
              <option key={p} value={priorityLabel(p)}>
                {priorityLabel(p)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={ids.from} className={label}>
            Created from
          </label>
          <input
            id={ids.from}
            type="date"
            value={view.from}
            max={view.to || undefined}
            onChange={(e) => onChange({ from: e.target.value })}
            className={inputClass}
          />
        </div>
        <div>
          <label htmlFor={ids.to} className={label}>
            Created until
          </label>
          <input
            id={ids.to}
            type="date"
            value={view.to}
            min={view.from || undefined}
            aria-invalid={backwards || undefined}
            aria-describedby={backwards ? `${ids.to}-error` : undefined}
            onChange={(e) => onChange({ to: e.target.value })}
            className={inputClass}
          />
        </div>
        <div>
          <label htmlFor={ids.sort} className={label}>
            Sort
          </label>
          <select
            id={ids.sort}
            value={view.sort}
            onChange={(e) => onChange({ sort: Number(e.target.value) as TaskSort })}
            className={inputClass}
          >
            {SORTS.map((s) => (
              <option key={s.word} value={s.sort}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <MetadataFilter value={view.metadata} onChange={(metadata) => onChange({ metadata })} />
        {filtered && (
          <Button variant="ghost" onClick={onClear} className="justify-self-start">
            Clear filters
          </Button>
        )}
      </div>
      {backwards && (
        <p id={`${ids.to}-error`} className="text-sm font-medium text-danger">
          “Created until” is before “Created from”: no task can match.
        </p>
      )}
    </div>
  );
}

interface MetadataFilterProps {
  value: Record<string, string>;
  onChange: (pairs: Record<string, string>) => void;
}

/** `key:value` pairs, applied on Enter or when focus leaves; a pair that doesn't read is pointed out. */
function MetadataFilter({ value, onChange }: MetadataFilterProps) {
  const id = useId();
  const shown = formatMetadataPairs(value);
  const [text, setText] = useState(shown);
  const [invalid, setInvalid] = useState(false);
  // Follow the address when it changes from outside (a shared link, "Clear filters").
  useEffect(() => {
    setText(shown);
    setInvalid(false);
  }, [shown]);
  const apply = () => {
    const pairs = parseMetadataPairs(text);
    setInvalid(pairs === undefined);
    if (pairs !== undefined && formatMetadataPairs(pairs) !== shown) onChange(pairs);
  };
  return (
    <div className="col-span-2 sm:col-span-1">
      <label htmlFor={id} className="mb-1 block text-xs font-medium text-fg-muted">
        Metadata
      </label>
      <input
        id={id}
        type="text"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => {
          if (e.key === "Enter") apply();
        }}
        placeholder="team:red area:search"
        spellCheck={false}
        aria-invalid={invalid || undefined}
        aria-describedby={`${id}-hint`}
        className={`${inputClass} font-mono`}
      />
      <p
        id={`${id}-hint`}
        className={`mt-1 text-xs ${invalid ? "font-medium text-danger" : "text-fg-subtle"}`}
      >
        {invalid
          ? "Write key:value pairs, separated by spaces."
          : "key:value pairs; Enter applies."}
      </p>
    </div>
  );
}

interface StatusFilterProps {
  selected: TaskStatus[];
  counts: ReadonlyMap<TaskStatus, number> | undefined;
  onChange: (statuses: TaskStatus[]) => void;
}

function StatusFilter({ selected, counts, onChange }: StatusFilterProps) {
  const chip = (pressed: boolean) =>
    `inline-flex h-8 items-center gap-1.5 rounded-full border px-3 text-sm font-medium transition-colors ${
      pressed
        ? "border-accent bg-accent text-accent-fg"
        : "border-line-strong bg-surface text-fg-muted hover:bg-sunken hover:text-fg"
    }`;
  const total =
    counts === undefined ? undefined : [...counts.values()].reduce((sum, n) => sum + n, 0);
  return (
    <fieldset className="flex flex-wrap items-center gap-2">
      <legend className="sr-only">Filter by status</legend>
      <button
        type="button"
        aria-pressed={selected.length === 0}
        className={chip(selected.length === 0)}
        onClick={() => onChange([])}
      >
        All
        <Count n={total} />
      </button>
      {STATUSES.map((status) => {
        const pressed = selected.includes(status);
        return (
          <button
            key={status}
            type="button"
            aria-pressed={pressed}
            data-testid={`status-filter-${statusLabel(status)}`}
            className={chip(pressed)}
            onClick={() =>
              onChange(pressed ? selected.filter((s) => s !== status) : [...selected, status])
            }
          >
            {statusLabel(status)}
            <Count n={counts === undefined ? undefined : (counts.get(status) ?? 0)} />
          </button>
        );
      })}
    </fieldset>
  );
}

function Count({ n }: { n: number | undefined }) {
  if (n === undefined) return null;
  return (
    <span data-testid="status-count" className="text-xs tabular-nums opacity-75">
      {formatCount(n)}
    </span>
  );
}

interface SearchBoxProps {
  value: string;
  onChange: (query: string) => void;
}

function SearchBox({ value, onChange }: SearchBoxProps) {
  const id = useId();
  const [text, setText] = useState(value);
  const emitted = useRef(value);

  // Follow the URL when it changes from outside (back button, "Clear filters"),
  // but not when it is our own debounced update arriving while the user types on.
  useEffect(() => {
    if (value !== emitted.current) {
      emitted.current = value;
      setText(value);
    }
  }, [value]);

  useEffect(() => {
    if (text.trim() === value) return;
    const timer = setTimeout(() => {
      emitted.current = text.trim();
      onChange(text);
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, value, onChange]);

  return (
    <search className="w-full lg:w-72">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          emitted.current = text.trim();
          onChange(text);
        }}
      >
        <label htmlFor={id} className="sr-only">
          Search tasks
        </label>
        <input
          id={id}
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Search name and prompt…"
          className={inputClass}
        />
      </form>
    </search>
  );
}
