/** What {@link coalesce} returns. */
export interface Coalesced {
  /** Asks for a run; several asks close together make one. */
  request(): void;
  /** Drops a pending run (a run already going finishes). */
  cancel(): void;
}

/**
 * Runs `run` at most once per `gapMs` however often it is asked for, and
 * never twice at once; an ask that comes while a run is going gets a run of
 * its own after it. So every ask is followed by a run that *starts* after it:
 * a refetch asked for because something changed sees that change, even when
 * an earlier refetch was still on its way.
 */
export function coalesce(run: () => Promise<unknown>, gapMs: number): Coalesced {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;
  let cancelled = false;

  const start = async () => {
    timer = undefined;
    running = true;
    try {
      await run();
    } catch {
      // The caller's run reports its own errors; the next ask tries again.
    } finally {
      running = false;
    }
    if (again && !cancelled) {
      again = false;
      schedule();
    }
  };
  const schedule = () => {
    timer ??= setTimeout(() => void start(), gapMs);
  };
  return {
    request() {
      if (cancelled) return;
      if (running) again = true;
      else schedule();
    },
    cancel() {
      cancelled = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
