#!/usr/bin/env node
// `promptline` on PATH (pnpm exec promptline, or a global link): runs the
// TypeScript CLI through tsx, as `pnpm promptline` does.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
