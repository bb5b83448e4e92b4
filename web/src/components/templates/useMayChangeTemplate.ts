import { type Template, UserRole } from "@promptline/proto";
import { useWhoAmI } from "../../auth/useWhoAmI";

/**
 * Whether the signed-in user may edit and delete `template`: its creator or
 * an admin (local mode's user is one). The server enforces the rule (see
 * server/src/auth/access.ts); this only keeps the page from offering what
 * would be refused. False until WhoAmI has answered.
 */
export function useMayChangeTemplate(template: Template): boolean {
  const user = useWhoAmI().data?.user;
  if (user === undefined) return false;
  return user.role === UserRole.ADMIN || user.name === template.createdBy;
}
