import { type ChildProcess, fork } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("HTTP/1.1 keep-alive", () => {
  let child: ChildProcess | undefined;
  const agent = new http.Agent({ keepAlive: true });
  afterEach(() => {
    child?.kill();
    agent.destroy();
  });

  it("answers a request on a reused idle socket even when the server's event loop stalls", async () => {
    // The client (Node's agent) keeps an idle socket until 1 s before the
    // advertised 5 s timeout; the request goes out at 3.8 s of idleness while
    // the server is stalled from 3.5 s to 6.5 s, past Node's default 6 s idle close.
    child = fork(path.join(here, "stalling-api-server.ts"), ["3000", "3500"], {
      cwd: path.join(here, ".."),
      execArgv: ["--import", "tsx"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child?.once("message", resolve);
      child?.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    });
    const get = () =>
      new Promise<{ status: number | undefined; reused: boolean }>((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/healthz", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
        });
        req.on("error", reject);
      });
    expect(await get()).toEqual({ status: 200, reused: false });
    await new Promise((resolve) => setTimeout(resolve, 3_800));
    expect(await get()).toEqual({ status: 200, reused: true });
  });
});
