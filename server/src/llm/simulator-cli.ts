/**
 * Runs the simulator on its own: `pnpm --filter @promptline/server simulator [port] [directives…]`.
 * The port comes from the first numeric argument, else PORT, else 4010; the
 * remaining arguments are default directives in the prompt grammar, e.g.
 * `simulator 4010 ttft=300 tps=40` for a demo that visibly streams.
 */
import { applyDirectiveArgs, type SimulatorDirectives, startSimulator } from "./simulator.js";

const args = process.argv.slice(2);
const portArg = args.find((a) => /^\d+$/.test(a));
const port = Number(portArg ?? process.env.PORT ?? 4010);
const hostArg = args.find((a) => a.startsWith("--host="));
const host = hostArg?.slice("--host=".length) ?? "127.0.0.1";
const defaults: SimulatorDirectives = {};
const errors = applyDirectiveArgs(
  defaults,
  args.filter((a) => a !== portArg && a !== hostArg).join(" "),
);
if (errors.length > 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
  for (const error of errors) console.error(error);
  if (errors.length === 0)
    console.error(`invalid port ${JSON.stringify(portArg ?? process.env.PORT)}`);
  console.error("usage: simulator [port] [--host=127.0.0.1] [ttft=MS] [tps=N] [tokens=N] …");
  process.exit(2);
}

const simulator = await startSimulator({ host, port, defaults });
console.log(`Promptline LLM simulator listening at ${simulator.url}`);
console.log("models: simulator/echo, simulator/lorem — outputs and prices are fake");

const stop = async () => {
  await simulator.close();
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
