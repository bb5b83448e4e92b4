import { useEffect, useState } from "react";
import { Button } from "./Button";

/** Props for {@link CopyButton}. */
export interface CopyButtonProps {
  text: string;
  /** The accessible name, e.g. "Copy output". */
  label: string;
}

type CopyState = "idle" | "copied" | "failed";

/**
 * Copies `text` to the clipboard and says so for two seconds (announced to
 * screen readers through a live region).
 */
export function CopyButton({ text, label }: CopyButtonProps) {
  const [state, setState] = useState<CopyState>("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), 2000);
    return () => clearTimeout(timer);
  }, [state]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };

  return (
    <Button
      size="sm"
      variant="secondary"
      aria-label={label}
      disabled={text === ""}
      onClick={() => void copy()}
    >
      <svg aria-hidden="true" viewBox="0 0 20 20" fill="currentColor" className="size-4">
        {state === "copied" ? (
          <path
            fillRule="evenodd"
            d="M16.7 5.3a1 1 0 0 1 0 1.4l-8 8a1 1 0 0 1-1.4 0l-4-4a1 1 0 1 1 1.4-1.4L8 12.6l7.3-7.3a1 1 0 0 1 1.4 0Z"
            clipRule="evenodd"
          />
        ) : (
          <path d="M7 3a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2H7Zm-4 4a1 1 0 0 1 1 1v7a3 3 0 0 0 3 3h5a1 1 0 1 1 0 2H7a5 5 0 0 1-5-5V8a1 1 0 0 1 1-1Z" />
        )}
      </svg>
      <span aria-live="polite">
        {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}
      </span>
    </Button>
  );
}
