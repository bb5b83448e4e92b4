import { useQuery } from "@connectrpc/connect-query";
import { TemplateService } from "@promptline/proto";
import { Link } from "react-router";

export { TEMPLATE_ID_KEY } from "./templateDraft";

/**
 * A link to the template a task was made from, by its name once loaded (its
 * id until then, or if it has been deleted since).
 */
export function TemplateOrigin({ id }: { id: string }) {
  const loaded = useQuery(TemplateService.method.getTemplate, { id }, { retry: false });
  const name = loaded.data?.template?.name;
  if (loaded.isError) {
    return <span className="font-mono text-xs">{id} (deleted)</span>;
  }
  return (
    <Link
      to={`/templates/${id}`}
      className={`text-accent-text underline ${name === undefined ? "font-mono text-xs" : ""}`}
    >
      {name ?? id}
    </Link>
  );
}
