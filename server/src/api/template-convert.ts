import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Template,
  TemplateSchema,
  type TemplateVariable,
  TemplateVariableSchema,
} from "@promptline/proto";
import type { StoredTemplate, TemplateVariableJson } from "../db/templates.js";
import { paramsToProto } from "./convert.js";

/** A stored template as the API shows it. */
export function templateToProto(row: StoredTemplate): Template {
  return create(TemplateSchema, {
    id: row.id,
    name: row.name,
    description: row.description,
    prompt: row.prompt,
    systemPrompt: row.system_prompt,
    model: row.model,
    params: paramsToProto(row.params),
    variables: row.variables.map(variableToProto),
    createdAt: timestampFromDate(row.created_at),
    updatedAt: timestampFromDate(row.updated_at),
    etag: row.etag,
    createdBy: row.created_by,
  });
}

export function variableToProto(v: TemplateVariableJson): TemplateVariable {
  return create(TemplateVariableSchema, {
    name: v.name,
    description: v.description,
    defaultValue: v.default,
  });
}
