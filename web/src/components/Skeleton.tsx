/** Props for {@link Skeleton}. */
export interface SkeletonProps {
  className?: string;
}

/** A grey shimmering block that holds a place while data loads; hidden from screen readers. */
export function Skeleton({ className }: SkeletonProps) {
  return (
    <span
      aria-hidden="true"
      className={`block animate-pulse rounded-md bg-line motion-reduce:animate-none ${className ?? "h-4 w-full"}`}
    />
  );
}
