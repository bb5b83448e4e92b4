/**
 * A child process for keep-alive.test.ts: the API server with nothing but
 * its health route, whose event loop stalls for `argv[2]` ms in an I/O
 * callback, `argv[3]` ms after it answered its first request, as a
 * process under heavy load does. Sends its port to the parent.
 */
import { stat } from "node:fs";
import { startApiServer } from "../src/api/http-server.js";

const stallMs = Number(process.argv[2]);
const stallAfterMs = Number(process.argv[3]);
const stall = () => {
  const until = Date.now() + stallMs;
  while (Date.now() < until) {
    // Busy: nothing else in this process runs, timers included.
  }
};
let first = true;
const server = await startApiServer({
  host: "127.0.0.1",
  port: 0,
  webDist: undefined,
  ready: async () => ({}),
  rpcHandler: (fallback) => (req, res) => {
    if (first) {
      first = false;
      // In an I/O callback: after it, the loop runs due timers before it reads sockets again.
      res.once("finish", () => setTimeout(() => stat("/", stall), stallAfterMs));
    }
    fallback(req, res);
  },
});
process.send?.(server.port);
