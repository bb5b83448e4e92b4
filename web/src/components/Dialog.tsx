import { type ReactNode, useEffect, useId, useRef } from "react";

/** Props for {@link Dialog}. */
export interface DialogProps {
  open: boolean;
  /** Called when the person dismisses it (Escape, or a close button calling it). */
  onClose: () => void;
  title: string;
  children: ReactNode;
}

/**
 * A modal dialog on the native `<dialog>`: the browser traps focus, makes
 * the page behind inert, and closes it on Escape; focus returns to where it
 * was when it closes.
 */
export function Dialog({ open, onClose, title, children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={onClose}
      className="m-auto w-[calc(100%-2rem)] max-w-lg rounded-xl border border-line bg-surface p-0 text-fg shadow-xl backdrop:bg-black/40"
    >
      {open && (
        <div className="space-y-4 p-5">
          <h2 id={titleId} className="text-base font-semibold">
            {title}
          </h2>
          {children}
        </div>
      )}
    </dialog>
  );
}
