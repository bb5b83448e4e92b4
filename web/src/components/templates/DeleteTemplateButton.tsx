import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import { type Template, TemplateService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { Button } from "../Button";
import { Dialog } from "../Dialog";
import { ErrorNotice } from "../ErrorNotice";

/**
 * Delete, after a confirmation that names the template. The etag it was
 * loaded with goes along, so a template someone changed meanwhile is kept.
 */
export function DeleteTemplateButton({ template }: { template: Template }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const remove = useMutation(TemplateService.method.deleteTemplate, {
    onSuccess: async () => {
      setOpen(false);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({
          schema: TemplateService.method.listTemplates,
          cardinality: undefined,
        }),
      });
      await navigate("/templates");
    },
  });
  return (
    <>
      <Button variant="secondary" onClick={() => setOpen(true)}>
        Delete
      </Button>
      <Dialog
        open={open}
        onClose={() => {
          setOpen(false);
          remove.reset();
        }}
        title={`Delete “${template.name}”?`}
      >
        <p className="text-sm text-fg-muted">
          The template is removed for everyone. Tasks already made from it stay.
        </p>
        {remove.isError && (
          <ErrorNotice error={remove.error} context="The template was not deleted" />
        )}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={() => setOpen(false)}>
            Keep it
          </Button>
          <Button
            variant="danger"
            disabled={remove.isPending}
            onClick={() => remove.mutate({ id: template.id, etag: template.etag })}
          >
            {remove.isPending ? "Deleting…" : "Delete template"}
          </Button>
        </div>
      </Dialog>
    </>
  );
}
