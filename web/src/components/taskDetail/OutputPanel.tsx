import { type Task, TaskStatus } from "@promptline/proto";
import { lazy, Suspense, useLayoutEffect, useRef, useState } from "react";
import { formatAbsolute, taskTitle, toDate } from "../../format";
import { CopyButton } from "../CopyButton";
import { Panel } from "../Panel";

/** Props for {@link OutputPanel}. */
export interface OutputPanelProps {
  task: Task;
  /** Upstream tasks not completed yet, which a pending task waits for. */
  waitingFor?: Task[];
}

function emptyOutputMessage(
  status: TaskStatus,
  waitingFor: Task[],
  runAt: Date | undefined,
): string {
  switch (status) {
    case TaskStatus.PENDING:
      if (runAt !== undefined && runAt.getTime() > Date.now()) {
        return `No output yet: scheduled to run at ${formatAbsolute(runAt)}.`;
      }
      if (waitingFor.length === 1 && waitingFor[0] !== undefined) {
        return `No output yet: waiting for “${taskTitle(waitingFor[0], 60)}” to complete.`;
      }
      if (waitingFor.length > 1) {
        return `No output yet: waiting for ${waitingFor.length} upstream tasks to complete.`;
      }
      return "No output yet: the task is waiting for a worker.";
    case TaskStatus.QUEUED:
      return "No output yet: the task is waiting for a worker.";
    case TaskStatus.RUNNING:
      return "Waiting for the model's first tokens…";
    case TaskStatus.COMPLETED:
      return "The model returned an empty answer.";
    default:
      return "No output.";
  }
}

// Close enough to the bottom to keep following new output.
const PINNED_SLACK_PX = 24;

const MarkdownView = lazy(() => import("./MarkdownView"));

type OutputView = "rendered" | "raw";

/**
 * The model's answer: rendered as Markdown once it is written (or as raw
 * text, the reader's choice), and while it is being written the raw text,
 * following it as it grows unless the reader scrolled up.
 */
export function OutputPanel({ task, waitingFor = [] }: OutputPanelProps) {
  const writing = task.status === TaskStatus.RUNNING;
  const outputRef = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  const [view, setView] = useState<OutputView>("rendered");
  const rendered = view === "rendered" && !writing;

  // Follow the output as it grows, unless the reader scrolled up to read.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs again whenever the output grows
  useLayoutEffect(() => {
    const el = outputRef.current;
    if (el !== null && writing && pinned.current) el.scrollTop = el.scrollHeight;
  }, [task.output, writing]);

  return (
    <Panel
      title="Output"
      actions={
        <div className="flex items-center gap-3">
          {writing && (
            <span className="inline-flex items-center gap-1.5 text-xs text-fg-muted">
              <span
                aria-hidden="true"
                className="size-1.5 rounded-full bg-amber-500 motion-safe:animate-pulse"
              />
              Writing…
            </span>
          )}
          {task.output !== "" && !writing && <ViewSwitch view={view} onChange={setView} />}
          <CopyButton text={task.output} label="Copy output" />
        </div>
      }
    >
      {task.output === "" ? (
        <p className="text-sm text-fg-muted">
          {emptyOutputMessage(task.status, waitingFor, toDate(task.runAt))}
        </p>
      ) : rendered ? (
        <Suspense fallback={<RawOutput text={task.output} />}>
          <div
            data-testid="task-output"
            data-view="rendered"
            className="max-h-[40rem] overflow-auto"
          >
            <MarkdownView text={task.output} />
          </div>
        </Suspense>
      ) : (
        <pre
          ref={outputRef}
          data-view="raw"
          data-testid="task-output"
          aria-busy={writing}
          onScroll={(e) => {
            const el = e.currentTarget;
            pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < PINNED_SLACK_PX;
          }}
          className={`max-h-[32rem] overflow-auto font-mono text-sm leading-relaxed break-words whitespace-pre-wrap ${writing ? "after:ml-px after:text-accent after:content-['▍'] motion-safe:after:animate-caret" : ""}`}
        >
          {task.output}
        </pre>
      )}
    </Panel>
  );
}

function RawOutput({ text }: { text: string }) {
  return (
    <pre className="max-h-[32rem] overflow-auto font-mono text-sm leading-relaxed break-words whitespace-pre-wrap">
      {text}
    </pre>
  );
}

function ViewSwitch({ view, onChange }: { view: OutputView; onChange: (v: OutputView) => void }) {
  const option = (value: OutputView, label: string) => (
    <button
      type="button"
      aria-pressed={view === value}
      onClick={() => onChange(value)}
      className={`rounded-md px-2 py-1 text-xs font-medium transition-colors ${
        view === value ? "bg-surface text-fg shadow-sm" : "text-fg-muted hover:text-fg"
      }`}
    >
      {label}
    </button>
  );
  return (
    <fieldset className="flex gap-0.5 rounded-lg bg-sunken p-0.5">
      <legend className="sr-only">Show the output</legend>
      {option("rendered", "Formatted")}
      {option("raw", "Raw")}
    </fieldset>
  );
}
