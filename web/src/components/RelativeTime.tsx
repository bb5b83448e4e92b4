import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import { formatAbsolute, formatRelative, toDate } from "../format";

/**
 * The current time in epoch milliseconds, re-rendering the caller every
 * `intervalMs` (15 s suits "5 min ago"; a running timer wants 1 s).
 */
export function useNow(intervalMs = 15_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** Props for {@link RelativeTime}. */
export interface RelativeTimeProps {
  value: Timestamp | undefined;
}

/**
 * "5 min ago" in a `<time>` element whose title (and datetime) hold the exact
 * moment; "—" when the timestamp is unset.
 */
export function RelativeTime({ value }: RelativeTimeProps) {
  const now = useNow();
  const date = toDate(value);
  if (date === undefined) return <span className="text-fg-subtle">—</span>;
  return (
    <time dateTime={date.toISOString()} title={formatAbsolute(date)}>
      {formatRelative(date, new Date(now))}
    </time>
  );
}
