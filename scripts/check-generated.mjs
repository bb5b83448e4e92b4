// Fails when proto/gen differs from what `pnpm gen` produces from proto/.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const out = mkdtempSync(path.join(tmpdir(), "promptline-gen-"));
try {
  const template = JSON.stringify({
    version: "v2",
    inputs: [{ directory: "proto" }],
    plugins: [{ local: "protoc-gen-es", out, opt: ["target=ts", "import_extension=js"] }],
  });
  execFileSync("pnpm", ["exec", "buf", "generate", "--template", template], {
    cwd: root,
    stdio: "inherit",
  });
  const list = (dir) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
  const committed = path.join(root, "proto/gen");
  const want = list(out);
  const have = list(committed);
  const stale = want.filter(
    (f) =>
      !have.includes(f) ||
      readFileSync(path.join(out, f), "utf8") !== readFileSync(path.join(committed, f), "utf8"),
  );
  const extra = have.filter((f) => !want.includes(f));
  if (stale.length > 0 || extra.length > 0) {
    console.error(
      `generated code is out of date (${[...stale, ...extra].join(", ")}): run \`pnpm gen\` and commit`,
    );
    process.exit(1);
  }
  console.log("generated code is up to date");
} finally {
  rmSync(out, { recursive: true, force: true });
}
