// Fails when proto/ breaks the contract it is compared with (`buf breaking`,
// the FILE rules of proto/buf.yaml): a removed or renumbered field, a changed
// type, a renamed RPC… Compared with, in order:
//   - BUF_BREAKING_AGAINST, any buf input (".git#branch=main,subdir=proto", a directory);
//   - on a branch other than main: main, the contract clients have;
//   - on main (CI's fresh clone of main): the previous commit, so the newest
//     commit cannot break what was published before it.
import { spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");

/** git's trimmed output, or undefined when the command fails. */
function git(...args) {
  const result = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function skip(reason) {
  console.log(`buf breaking skipped: ${reason}`);
  process.exit(0);
}

function chooseBaseline() {
  const given = process.env.BUF_BREAKING_AGAINST;
  if (given !== undefined && given !== "") return { against: given, label: given };
  if (git("rev-parse", "--git-dir") === undefined) skip("not a git checkout, no earlier contract");
  const branch = git("symbolic-ref", "--short", "-q", "HEAD");
  if (
    branch !== undefined &&
    branch !== "main" &&
    git("rev-parse", "--verify", "-q", "refs/heads/main") !== undefined
  ) {
    return { against: ".git#branch=main,subdir=proto", label: "main" };
  }
  if (git("rev-parse", "--verify", "-q", "HEAD~1^{commit}") === undefined) {
    if (git("rev-parse", "--is-shallow-repository") === "true") {
      console.error(
        "buf breaking needs the previous commit, and this clone is shallow: run `git fetch --deepen=1` (or set BUF_BREAKING_AGAINST)",
      );
      process.exit(1);
    }
    skip("the first commit has nothing before it");
  }
  if (git("cat-file", "-e", "HEAD~1:proto/buf.yaml") === undefined) {
    skip("the previous commit has no proto/ module");
  }
  return { against: ".git#ref=HEAD~1,subdir=proto", label: "the previous commit (HEAD~1)" };
}

const { against, label } = chooseBaseline();
const result = spawnSync("pnpm", ["exec", "buf", "breaking", "proto", "--against", against], {
  cwd: root,
  stdio: "inherit",
});
if (result.status !== 0) {
  console.error(
    `proto/ breaks the contract of ${label}: see "Evolving the API" in README.md (reserve removed fields, never renumber)`,
  );
  process.exit(result.status ?? 1);
}
console.log(`no breaking change against ${label}`);
