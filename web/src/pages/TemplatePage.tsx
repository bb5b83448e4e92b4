import { useQuery } from "@connectrpc/connect-query";
import { type Template, TemplateService } from "@promptline/proto";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { buttonClass } from "../components/Button";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { Skeleton } from "../components/Skeleton";
import { DeleteTemplateButton } from "../components/templates/DeleteTemplateButton";
import { RunTemplatePanel } from "../components/templates/RunTemplatePanel";
import { TemplateEditor } from "../components/templates/TemplateEditor";
import { draftFromTemplate, emptyTemplateDraft } from "../components/templates/templateDraft";

/** `/templates/new`: a blank template form. */
export function NewTemplatePage() {
  const [initial] = useState(emptyTemplateDraft);
  return (
    <>
      <title>New template · Promptline</title>
      <PageHeader
        title="New template"
        description="Write a prompt with {{vars.<name>}} blanks; the preview shows it filled in."
      />
      <TemplateEditor initial={initial} />
    </>
  );
}

/** `/templates/:id`: run the template, edit it, or delete it. */
export function TemplatePage() {
  const { id = "" } = useParams();
  const loaded = useQuery(TemplateService.method.getTemplate, { id });
  const template = loaded.data?.template;
  if (template !== undefined) return <LoadedTemplate key={template.id} template={template} />;
  return (
    <>
      <title>Template · Promptline</title>
      <PageHeader title="Template" />
      {loaded.isPending ? (
        <div role="status" aria-label="Loading the template" className="space-y-4">
          <Skeleton className="h-10 w-full max-w-xl" />
          <Skeleton className="h-64 w-full rounded-xl" />
        </div>
      ) : (
        <div className="space-y-4">
          <ErrorNotice
            error={loaded.error}
            context="Couldn't load the template"
            onRetry={() => void loaded.refetch()}
          />
          <Link to="/templates" className={buttonClass("secondary")}>
            All templates
          </Link>
        </div>
      )}
    </>
  );
}

function LoadedTemplate({ template }: { template: Template }) {
  // Made once: the editor owns its values from here on, whatever refetches bring.
  const [initial] = useState(() => draftFromTemplate(template));
  return (
    <>
      <title>{`${template.name} · Templates · Promptline`}</title>
      <PageHeader
        title={template.name}
        description={template.description === "" ? undefined : template.description}
        actions={<DeleteTemplateButton template={template} />}
      />
      <div className="space-y-8">
        <RunTemplatePanel template={template} />
        <section aria-labelledby="template-edit-heading" className="space-y-4">
          <h2 id="template-edit-heading" className="text-lg font-semibold">
            Edit
          </h2>
          <TemplateEditor initial={initial} template={template} />
        </section>
      </div>
    </>
  );
}
