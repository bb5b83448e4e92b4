/** No template has this id. */
export class TemplateNotFoundError extends Error {
  constructor(readonly templateId: string) {
    super(`template ${templateId} not found`);
    this.name = "TemplateNotFoundError";
  }
}

/** The caller's etag is not the template's current one: someone changed it since they read it. */
export class StaleTemplateError extends Error {
  constructor(readonly templateId: string) {
    super(`etag: template ${templateId} was changed since this etag was read; get it again`);
    this.name = "StaleTemplateError";
  }
}
