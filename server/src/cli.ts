// The `promptline` command: a client of the API, like any other service.
// The entry point reads the environment; runCli receives it as an argument.
import { runCli } from "./cli/run.js";

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
// Exit once everything written is flushed, without waiting for idle keep-alive sockets.
process.stdout.write("", () => process.exit(code));
