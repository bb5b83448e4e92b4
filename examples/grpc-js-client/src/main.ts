/**
 * Calling Promptline from another Node.js service with plain @grpc/grpc-js:
 * create a task, then watch it and print its output as the model writes it.
 *
 * To use it elsewhere, copy this folder and Promptline's
 * proto/promptline/v1/task.proto (point PROMPTLINE_PROTO at it). The .proto is
 * loaded at run time by @grpc/proto-loader, so there is no code generation.
 *
 *   PROMPTLINE_ADDR=127.0.0.1:8080 pnpm start "Write a haiku about queues"
 *
 * Environment: PROMPTLINE_ADDR (host:port of the API, default
 * 127.0.0.1:8080), PROMPTLINE_MODEL (default simulator/echo),
 * PROMPTLINE_PROTO (path of task.proto), PROMPTLINE_API_KEY (sent as a
 * bearer token, when the server asks for one).
 */
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

// The parts of task.proto this example uses, as proto-loader presents them
// with the options below: camelCase fields, enums as their names, 64-bit
// integers as strings, and `event` naming the oneof case that is set.
interface TaskError {
  code: string;
  message: string;
  httpStatus: number;
}

interface Task {
  id: string;
  status: string;
  output: string;
  attempts: number;
  error: TaskError | null;
}

interface WatchTaskResponse {
  event: "task" | "output";
  task?: Task;
  output?: { attempt: number; offset: string; text: string };
}

interface TaskServiceClient extends grpc.Client {
  createTask(
    request: { prompt: string; model: string; name?: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<{ task: Task }>,
  ): grpc.ClientUnaryCall;
  watchTask(
    request: { id: string },
    metadata: grpc.Metadata,
  ): grpc.ClientReadableStream<WatchTaskResponse>;
}

const address = process.env.PROMPTLINE_ADDR ?? "127.0.0.1:8080";
const model = process.env.PROMPTLINE_MODEL ?? "simulator/echo";
const protoPath =
  process.env.PROMPTLINE_PROTO ??
  fileURLToPath(new URL("../../../proto/promptline/v1/task.proto", import.meta.url));
const prompt = process.argv[2] ?? "Say hello from @grpc/grpc-js";

function connect(): TaskServiceClient {
  const definition = protoLoader.loadSync(protoPath, {
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = definition["promptline.v1.TaskService"];
  if (service === undefined || "format" in service) {
    throw new Error(`${protoPath} does not define promptline.v1.TaskService`);
  }
  const TaskService = grpc.makeClientConstructor(service, "TaskService");
  // proto-loader adds the methods at run time; TaskServiceClient is what task.proto declares.
  return new TaskService(
    address,
    grpc.credentials.createInsecure(),
  ) as unknown as TaskServiceClient;
}

/** Metadata for every call: a request id to find this call in Promptline's logs, and a key if set. */
function metadata(requestId: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("x-request-id", requestId);
  const apiKey = process.env.PROMPTLINE_API_KEY;
  if (apiKey !== undefined && apiKey !== "") md.set("authorization", `Bearer ${apiKey}`);
  return md;
}

function createTask(client: TaskServiceClient, requestId: string): Promise<Task> {
  return new Promise((resolve, reject) => {
    client.createTask(
      { prompt, model, name: "grpc-js example" },
      metadata(requestId),
      // Unary calls get a deadline; the server answers DEADLINE_EXCEEDED past it.
      { deadline: new Date(Date.now() + 10_000) },
      (error, response) => {
        if (error !== null) reject(error);
        else if (response?.task === undefined) reject(new Error("CreateTask returned no task"));
        else resolve(response.task);
      },
    );
  });
}

/**
 * Prints the task's output as it arrives and resolves with the task as it
 * ended. The first message carries the output so far, deltas follow, and
 * the final message the whole output: only what is new is printed.
 */
function watchTask(client: TaskServiceClient, id: string, requestId: string): Promise<Task> {
  return new Promise((resolve, reject) => {
    let last: Task | undefined;
    let printed = 0;
    const print = (output: string, from: number) => {
      if (from + output.length <= printed) return;
      process.stdout.write(output.slice(printed - from));
      printed = from + output.length;
    };
    const call = client.watchTask({ id }, metadata(requestId));
    call.on("data", (message: WatchTaskResponse) => {
      if (message.task !== undefined) {
        last = message.task;
        print(message.task.output, 0);
      } else if (message.output !== undefined) {
        print(message.output.text, Number(message.output.offset));
      }
    });
    call.on("error", reject);
    // The server ends the stream once the task is finished.
    call.on("end", () =>
      last === undefined ? reject(new Error("the watch ended before any message")) : resolve(last),
    );
  });
}

/** A failed call: a status code (grpc.status) and the server's message. */
function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && "code" in error && typeof error.code === "number";
}

const client = connect();
try {
  const requestId = randomUUID();
  const created = await createTask(client, requestId);
  process.stderr.write(`task ${created.id} (request id ${requestId})\n`);
  const task = await watchTask(client, created.id, requestId);
  process.stdout.write("\n");
  if (task.status !== "TASK_STATUS_COMPLETED") {
    const reason = task.error === null ? "" : `: ${task.error.code} ${task.error.message}`;
    process.stderr.write(`task ended ${task.status}${reason}\n`);
    process.exitCode = 1;
  }
} catch (error) {
  process.stderr.write(
    isServiceError(error)
      ? `call failed: ${grpc.status[error.code]}: ${error.details}\n`
      : `${String(error)}\n`,
  );
  process.exitCode = 1;
} finally {
  client.close();
}
