import { UserRole } from "@promptline/proto";
import type { ReactNode } from "react";
import { useWhoAmI } from "./useWhoAmI";

/**
 * Shows its children to admins only (local mode's user is one): for links
 * to pages built on admin-only RPCs, which a member would only see refused.
 */
export function AdminOnly({ children }: { children: ReactNode }) {
  const who = useWhoAmI();
  return who.data?.user?.role === UserRole.ADMIN ? children : null;
}
