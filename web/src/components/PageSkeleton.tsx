import { PageHeader } from "./PageHeader";
import { Skeleton } from "./Skeleton";

/** Props for {@link PageSkeleton}. */
export interface PageSkeletonProps {
  /** The page's title, shown at once so the place is clear while the rest loads. */
  title: string;
}

/** What a page that loads its own code shows meanwhile: its title and grey blocks. */
export function PageSkeleton({ title }: PageSkeletonProps) {
  return (
    <div aria-busy="true">
      <PageHeader title={title} description={<span className="sr-only">Loading…</span>} />
      <div className="grid gap-6 lg:grid-cols-2">
        {[0, 1, 2, 3].map((i) => (
          <Skeleton key={i} className="h-56 w-full rounded-xl" />
        ))}
      </div>
    </div>
  );
}
