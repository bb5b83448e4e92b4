import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type CreateTemplateRequest,
  CreateTemplateResponseSchema,
  type DeleteTemplateRequest,
  DeleteTemplateResponseSchema,
  type GetTemplateRequest,
  GetTemplateResponseSchema,
  type ListTemplatesRequest,
  ListTemplatesResponseSchema,
  type RenderTemplateRequest,
  RenderTemplateResponseSchema,
  type RunTemplateRequest,
  RunTemplateResponseSchema,
  type TemplateService,
  type UpdateTemplateRequest,
  UpdateTemplateResponseSchema,
} from "@promptline/proto";
import { ownerOf } from "../auth/principal.js";
import { renderTemplate } from "../templates/render.js";
import type { Templates } from "../templates/templates.js";
import { kRequestId } from "./context.js";
import { taskToProto } from "./convert.js";
import { templateToProto } from "./template-convert.js";
import {
  encodeTemplatePageToken,
  parseCreateTemplate,
  parseDeleteTemplate,
  parseListTemplates,
  parseRenderTemplate,
  parseRunTemplate,
  parseTemplateId,
  parseUpdateTemplate,
  renderable,
  taskFromTemplate,
} from "./template-validation.js";

export interface TemplateServiceHandlerDeps {
  templates: Templates;
}

/** TemplateService over Connect, gRPC and gRPC-web: translate, delegate, translate back. */
export class TemplateServiceHandler implements ServiceImpl<typeof TemplateService> {
  readonly #templates: Templates;

  constructor(deps: TemplateServiceHandlerDeps) {
    this.#templates = deps.templates;
  }

  async createTemplate(req: CreateTemplateRequest, ctx: HandlerContext) {
    const template = await this.#templates.create(parseCreateTemplate(req), ownerOf(ctx));
    return create(CreateTemplateResponseSchema, { template: templateToProto(template) });
  }

  async getTemplate(req: GetTemplateRequest) {
    const template = await this.#templates.get(parseTemplateId(req.id));
    return create(GetTemplateResponseSchema, { template: templateToProto(template) });
  }

  async listTemplates(req: ListTemplatesRequest) {
    const { rows, more } = await this.#templates.list(parseListTemplates(req));
    const last = rows.at(-1);
    return create(ListTemplatesResponseSchema, {
      templates: rows.map(templateToProto),
      nextPageToken: more && last !== undefined ? encodeTemplatePageToken(last.name) : "",
    });
  }

  async updateTemplate(req: UpdateTemplateRequest) {
    const { id, ifEtag, edit } = parseUpdateTemplate(req);
    const template = await this.#templates.update(id, edit, ifEtag);
    return create(UpdateTemplateResponseSchema, { template: templateToProto(template) });
  }

  async deleteTemplate(req: DeleteTemplateRequest) {
    const { id, ifEtag } = parseDeleteTemplate(req);
    await this.#templates.delete(id, ifEtag);
    return create(DeleteTemplateResponseSchema, {});
  }

  async renderTemplate(req: RenderTemplateRequest) {
    const source = parseRenderTemplate(req);
    const template =
      "id" in source ? renderable(await this.#templates.get(source.id)) : source.draft;
    return create(RenderTemplateResponseSchema, renderTemplate(template, req.vars));
  }

  async runTemplate(req: RunTemplateRequest, ctx: HandlerContext) {
    const requestId = ctx.values.get(kRequestId);
    const task = await this.#templates.run(parseRunTemplate(req), (template) => ({
      ...taskFromTemplate(req, template, requestId),
      ownerId: ownerOf(ctx),
    }));
    return create(RunTemplateResponseSchema, { task: taskToProto(task) });
  }
}
