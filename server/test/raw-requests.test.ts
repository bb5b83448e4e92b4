import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TaskService } from "@promptline/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_REQUEST_BYTES } from "../src/app.js";
import { generateApiKey } from "../src/auth/keys.js";
import { ensureUser, insertApiKey } from "../src/db/auth.js";
import { startTestApp, type TestApp } from "./harness.js";

// Raw bytes at each protocol's endpoint, as a broken or hostile client sends
// them: each gets a proper status, and the server goes on serving.

const CREATE = "/promptline.v1.TaskService/CreateTask";
const GET = "/promptline.v1.TaskService/GetTask";

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp({ AUTH_MODE: "keys" });
  const user = await ensureUser(app.db, `raw-${randomUUID().slice(0, 6)}`, "member");
  const made = generateApiKey();
  await insertApiKey(app.db, {
    userId: user.id,
    name: "",
    prefix: made.prefix,
    keyHash: made.hash,
  });
  key = made.key;
}, 60_000);
afterAll(async () => {
  await app?.close();
});

// After every case: the server is up and answers a real call.
afterEach(async () => {
  const client = createClient(
    TaskService,
    createConnectTransport({
      baseUrl: app.url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${key}`);
          return next(req);
        },
      ],
    }),
  );
  const { task } = await client.createTask({ prompt: "still here?", model: "simulator/echo" });
  expect(task?.id).toBeTruthy();
  expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
});

function post(path: string, contentType: string, body: Uint8Array | string, auth = true) {
  return fetch(`${app.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": contentType,
      ...(auth ? { authorization: `Bearer ${key}` } : {}),
    },
    body,
  });
}

/** A gRPC / gRPC-web length-prefixed frame: flags, 4-byte length, payload. */
function frame(payload: Uint8Array, options: { flags?: number; length?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(options.flags ?? 0, 0);
  head.writeUInt32BE(options.length ?? payload.length, 1);
  return Buffer.concat([head, payload]);
}

describe("Connect (HTTP/1.1)", () => {
  it("malformed JSON is InvalidArgument (HTTP 400)", async () => {
    const res = await post(CREATE, "application/json", '{"prompt": "unterminated');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("JSON of the wrong shape is InvalidArgument", async () => {
    const res = await post(CREATE, "application/json", '{"prompt": 5, "model": ["x"]}');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
  });

  // Connect-ES decodes binary before any interceptor runs and answers an
  // undecodable message with Internal, as grpc-go does; the message says why.
  it("garbage protobuf is Internal with 'parse binary', and only that call fails", async () => {
    const res = await post(CREATE, "application/proto", new Uint8Array([0xff, 0xff, 0xff, 0x0f]));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({
      code: "internal",
      message: expect.stringMatching(/^parse binary: /),
    });
  });

  it("a body over the limit is ResourceExhausted, without a key too", async () => {
    const body = new Uint8Array(MAX_REQUEST_BYTES + 1).fill(0x20);
    const res = await post(CREATE, "application/json", body, false);
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
  });

  it("a valid message without a key is Unauthenticated (HTTP 401)", async () => {
    const res = await post(
      CREATE,
      "application/json",
      '{"prompt":"hi","model":"simulator/echo"}',
      false,
    );
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "unauthenticated" });
  });

  it("an unsupported content type is HTTP 415, a GET of a mutation is 405, an unknown RPC is 404", async () => {
    expect((await post(CREATE, "text/plain", "hello")).status).toBe(415);
    expect((await fetch(`${app.url}${CREATE}?encoding=json&message=%7B%7D`)).status).toBe(405);
    expect((await post("/promptline.v1.TaskService/Nope", "application/json", "{}")).status).toBe(
      404,
    );
  });
});

describe("gRPC-web (HTTP/1.1)", () => {
  const grpcWeb = async (body: Uint8Array) => {
    const res = await post(GET, "application/grpc-web+proto", body);
    return {
      status: res.status,
      grpcStatus: res.headers.get("grpc-status"),
      body: await res.text(),
    };
  };

  it("a frame of garbage protobuf is INTERNAL (13) 'parse binary'", async () => {
    const res = await grpcWeb(frame(new Uint8Array([0xff, 0xff, 0xff, 0x0f])));
    expect(res.status).toBe(200);
    expect(res.grpcStatus ?? /grpc-status:\s*(\d+)/.exec(res.body)?.[1]).toBe("13");
    expect(decodeURIComponent(res.body)).toMatch(/grpc-message: parse binary/);
  });

  it("a frame longer than the limit is RESOURCE_EXHAUSTED (8)", async () => {
    const res = await grpcWeb(frame(new Uint8Array(16), { length: MAX_REQUEST_BYTES + 1 }));
    expect(res.grpcStatus ?? /grpc-status:\s*(\d+)/.exec(res.body)?.[1]).toBe("8");
  });

  it("a truncated frame is INVALID_ARGUMENT (3)", async () => {
    const res = await grpcWeb(frame(new Uint8Array(3), { length: 100 }));
    expect(res.grpcStatus ?? /grpc-status:\s*(\d+)/.exec(res.body)?.[1]).toBe("3");
  });
});

describe("gRPC (HTTP/2 cleartext)", () => {
  /** One raw gRPC call; resolves with the status from headers or trailers. */
  const grpcCall = (payload: Buffer, headers: Record<string, string> = {}) =>
    new Promise<{ status: string | undefined; message: string | undefined }>((resolve, reject) => {
      const session = http2.connect(app.url);
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": GET,
        "content-type": "application/grpc+proto",
        te: "trailers",
        authorization: `Bearer ${key}`,
        ...headers,
      });
      let status: string | undefined;
      let message: string | undefined;
      const take = (h: http2.IncomingHttpHeaders) => {
        const s = h["grpc-status"];
        if (typeof s === "string") status = s;
        const m = h["grpc-message"];
        if (typeof m === "string") message = m;
      };
      stream.on("response", take);
      stream.on("trailers", take);
      stream.on("data", () => {});
      stream.on("error", reject);
      stream.on("close", () => {
        session.close();
        resolve({ status, message });
      });
      stream.end(payload);
    });

  it("garbage protobuf is INTERNAL (13) 'parse binary'", async () => {
    const res = await grpcCall(frame(Buffer.from([0xff, 0xff, 0xff, 0x0f])));
    expect(res).toMatchObject({ status: "13", message: expect.stringMatching(/^parse binary/) });
  });

  it("a frame claiming more than the limit is RESOURCE_EXHAUSTED (8), unread", async () => {
    const res = await grpcCall(frame(Buffer.alloc(8), { length: 0xffffffff }));
    expect(res.status).toBe("8");
  });

  it("a compressed frame in an encoding nobody offered is an error, not a crash", async () => {
    const res = await grpcCall(frame(Buffer.from("not gzip at all"), { flags: 1 }), {
      "grpc-encoding": "zstd-nope",
    });
    expect(res.status).toBe("12"); // UNIMPLEMENTED
  });

  it("no key is UNAUTHENTICATED (16)", async () => {
    const res = await grpcCall(frame(Buffer.alloc(0)), { authorization: "" });
    expect(res.status).toBe("16");
  });
});

describe("not HTTP at all", () => {
  const raw = (bytes: string | Buffer) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(
        new URL(app.url).port === "" ? 80 : Number(new URL(app.url).port),
        "127.0.0.1",
      );
      let reply = "";
      socket.on("data", (chunk) => {
        reply += chunk.toString("latin1");
      });
      socket.on("error", () => resolve(reply));
      socket.on("close", () => resolve(reply));
      socket.on("connect", () => socket.end(bytes));
    });

  it("garbage on the port gets HTTP 400 and a closed connection", async () => {
    expect(await raw("\x00\x01GARBAGE\r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
  });

  it("an HTTP/2 preface followed by garbage ends that connection only", async () => {
    await raw(
      Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.alloc(64, 0xff)]),
    );
  });
});
