import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { AuthMode, type AuthService, UserRole, WhoAmIResponseSchema } from "@promptline/proto";
import { kPrincipal, LOCAL_USER, type AuthMode as Mode } from "../auth/principal.js";

/** AuthService: who the caller is, as the auth interceptor established it. */
export class AuthServiceHandler implements ServiceImpl<typeof AuthService> {
  constructor(private readonly mode: Mode) {}

  async whoAmI(_req: unknown, ctx: HandlerContext) {
    const principal = ctx.values.get(kPrincipal) ?? LOCAL_USER;
    return create(WhoAmIResponseSchema, {
      user: {
        id: principal.userId,
        name: principal.userName,
        role: principal.role === "admin" ? UserRole.ADMIN : UserRole.MEMBER,
      },
      authMode: this.mode === "keys" ? AuthMode.KEYS : AuthMode.LOCAL,
      keyPrefix: principal.keyPrefix ?? "",
    });
  }
}
