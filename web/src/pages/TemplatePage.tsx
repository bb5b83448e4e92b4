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
import { TemplateContents } from "../components/templates/TemplateContents";
import { TemplateEditor } from "../components/templates/TemplateEditor";
import { draftFromTemplate, emptyTemplateDraft } from "../components/templates/templateDraft";
import { useMayChangeTemplate } from "../components/templates/useMayChangeTemplate";

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

/** `/templates/:id`: run the template, and edit or delete it when the caller may. */
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
  const mayChange = useMayChangeTemplate(template);
  return (
    <>
      <title>{`${template.name} · Templates · Promptline`}</title>
      <PageHeader
        title={template.name}
        description={
          <>
            {template.description !== "" && <p>{template.description}</p>}
            <p data-testid="template-creator">Created by {template.createdBy}</p>
          </>
        }
        actions={mayChange ? <DeleteTemplateButton template={template} /> : undefined}
      />
      <div className="space-y-8">
        <RunTemplatePanel template={template} />
        {mayChange ? (
          <section aria-labelledby="template-edit-heading" className="space-y-4">
            <h2 id="template-edit-heading" className="text-lg font-semibold">
              Edit
            </h2>
            <TemplateEditor initial={initial} template={template} />
          </section>
        ) : (
          <div className="space-y-2">
            <TemplateContents template={template} />
            <p className="text-sm text-fg-muted">
              Only {template.createdBy}, who created this template, or an admin can edit or delete
              it.
            </p>
          </div>
        )}
      </div>
    </>
  );
}
