import type { Migration } from "kysely/migration";
import * as initial from "./0001_initial.js";
import * as auth from "./0002_auth.js";
import * as templateOwner from "./0003_template_owner.js";
import * as claim from "./0004_claim.js";
import * as taskSearch from "./0005_task_search.js";

/**
 * Every migration, keyed by a name that sorts in the order they must run.
 * An in-code map instead of a folder glob, so the server migrates the same
 * way under tsx, vitest and a bundler. Append new entries; never edit one.
 */
export const migrations: Readonly<Record<string, Migration>> = {
  "0001_initial": initial,
  "0002_auth": auth,
  "0003_template_owner": templateOwner,
  "0004_claim": claim,
  "0005_task_search": taskSearch,
};
