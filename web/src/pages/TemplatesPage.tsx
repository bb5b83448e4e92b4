import { useInfiniteQuery } from "@connectrpc/connect-query";
import { TemplateService } from "@promptline/proto";
import { keepPreviousData } from "@tanstack/react-query";
import { useDeferredValue } from "react";
import { Link, useSearchParams } from "react-router";
import { Button, buttonClass } from "../components/Button";
import { ErrorNotice } from "../components/ErrorNotice";
import { inputClass } from "../components/Field";
import { PageHeader } from "../components/PageHeader";
import { RelativeTime } from "../components/RelativeTime";
import { Skeleton } from "../components/Skeleton";

const PAGE_SIZE = 50;

/**
 * Every template by name, with a search on the name kept in the address
 * (`?q=`), and "Load more" for long lists. With none yet, it says what a
 * template is and how to make one.
 */
export function TemplatesPage() {
  const [params, setParams] = useSearchParams();
  const query = params.get("q") ?? "";
  const deferredQuery = useDeferredValue(query);
  const list = useInfiniteQuery(
    TemplateService.method.listTemplates,
    { query: deferredQuery.trim(), pageSize: PAGE_SIZE, pageToken: "" },
    {
      pageParamKey: "pageToken",
      getNextPageParam: (last) => (last.nextPageToken === "" ? undefined : last.nextPageToken),
      placeholderData: keepPreviousData,
    },
  );
  const templates = list.data?.pages.flatMap((p) => p.templates) ?? [];
  const searching = query.trim() !== "";

  return (
    <>
      <title>Templates · Promptline</title>
      <PageHeader
        title="Templates"
        description="Prompts you run again and again, with blanks filled in each time."
        actions={
          <Link to="/templates/new" className={buttonClass("primary")}>
            New template
          </Link>
        }
      />
      <div className="mb-4 max-w-sm">
        <label htmlFor="template-search" className="sr-only">
          Search templates by name
        </label>
        <input
          id="template-search"
          type="search"
          value={query}
          onChange={(e) =>
            setParams(e.target.value === "" ? {} : { q: e.target.value }, { replace: true })
          }
          placeholder="Search by name"
          className={inputClass}
        />
      </div>
      {list.isPending ? (
        <div role="status" aria-label="Loading templates" className="space-y-3">
          <Skeleton className="h-16 w-full rounded-xl" />
          <Skeleton className="h-16 w-full rounded-xl" />
        </div>
      ) : list.isError && templates.length === 0 ? (
        <ErrorNotice
          error={list.error}
          context="Couldn't load templates"
          onRetry={() => void list.refetch()}
        />
      ) : templates.length === 0 ? (
        searching ? (
          <p className="rounded-xl border border-line bg-surface p-6 text-sm text-fg-muted">
            No template's name contains “{query.trim()}”.
          </p>
        ) : (
          <div className="rounded-xl border border-dashed border-line-strong bg-surface p-8 text-center">
            <h2 className="text-base font-semibold">No templates yet</h2>
            <p className="mx-auto mt-2 max-w-md text-sm text-fg-muted">
              A template is a prompt with blanks, such as{" "}
              <code className="font-mono">{"{{vars.topic}}"}</code>, plus a model and parameters.
              Create one, then run it with different values or pick it when you create a task.
            </p>
            <Link to="/templates/new" className={`${buttonClass("primary")} mt-4`}>
              Create a template
            </Link>
          </div>
        )
      ) : (
        <ul className="divide-y divide-line rounded-xl border border-line bg-surface shadow-xs">
          {templates.map((t) => (
            <li key={t.id}>
              <Link
                to={`/templates/${t.id}`}
                data-testid="template-row"
                className="flex flex-col gap-1 px-4 py-3 hover:bg-sunken sm:flex-row sm:items-center sm:justify-between"
              >
                <span className="min-w-0">
                  <span className="block font-medium break-words">{t.name}</span>
                  {t.description !== "" && (
                    <span className="block truncate text-sm text-fg-muted">{t.description}</span>
                  )}
                </span>
                <span className="flex shrink-0 flex-wrap items-center gap-x-3 text-xs text-fg-subtle">
                  <span className="font-mono">{t.model}</span>
                  <span>by {t.createdBy}</span>
                  <span>
                    {t.variables.length === 1 ? "1 variable" : `${t.variables.length} variables`}
                  </span>
                  <span>
                    updated <RelativeTime value={t.updatedAt} />
                  </span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {list.hasNextPage && (
        <div className="mt-4 flex justify-center">
          <Button onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </Button>
        </div>
      )}
    </>
  );
}
