import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type AdminService,
  type RunRetentionRequest,
  RunRetentionResponseSchema,
} from "@promptline/proto";
import type { Operations } from "../tasks/operations.js";
import { parseRunRetention } from "./validation.js";

/** AdminService: operations for administrators. Translate, delegate, translate back. */
export class AdminServiceHandler implements ServiceImpl<typeof AdminService> {
  constructor(private readonly ops: Operations) {}

  async runRetention(req: RunRetentionRequest) {
    const deleted = await this.ops.runRetention(parseRunRetention(req));
    return create(RunRetentionResponseSchema, { deleted: BigInt(deleted) });
  }
}
