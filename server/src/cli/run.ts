import { parseArgs } from "node:util";
import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AuthMode,
  AuthService,
  GetTaskResponseSchema,
  ListTasksResponseSchema,
  type Task,
  TaskPriority,
  TaskSchema,
  TaskService,
  TaskStatus,
  UserRole,
  WatchTaskResponseSchema,
  WhoAmIResponseSchema,
} from "@promptline/proto";
import { codeName, errorLine, statusName, taskDetails, taskTable } from "./format.js";
import { runKeys } from "./keys.js";

/** What the CLI exits with; scripts can tell a failed task from a failed call. */
export const EXIT = {
  ok: 0,
  /** `watch` (or `create --watch`): the task ended failed or cancelled. */
  taskNotCompleted: 1,
  /** A bad command, flag or value; nothing was sent. */
  usage: 2,
  /** The server answered with an error, or could not be reached. */
  callFailed: 3,
} as const;

export const DEFAULT_URL = "http://127.0.0.1:8080";

export const USAGE = `Usage: promptline <command> [options]

Commands:
  create <prompt> --model <id>   create a task ("-" reads the prompt from stdin)
      [--name <name>] [--priority low|normal|high|critical] [--system <text>]
      [--param key=value]…       temperature, top_p, max_tokens, seed, stop (repeatable)
      [--watch]                  then stream its output, like watch
  list                           newest first
      [--status <status>]…       pending, queued, running, completed, failed, cancelled
      [--model <id>] [--query <text>] [--limit <n>] [--page-token <token>]
  get <id>                       a task with its output
  watch <id>                     stream the output as it is written; exit 1 unless it completes
  cancel <id>
  retry <id>                     run a failed or cancelled task again
  whoami                         the user and role of the API key, and the server's auth mode
  keys create|list|revoke        manage API keys in the database (promptline keys --help)

Options:
  --url <url>        the Promptline API (env PROMPTLINE_URL, default ${DEFAULT_URL})
  --api-key <key>    sent as "Authorization: Bearer <key>" (env PROMPTLINE_API_KEY)
  --timeout <s>      deadline of each call except streams, in seconds (default 30)
  --json             print the API's messages as JSON (one per line for streams)
  -h, --help

Exit codes: 0 ok, 1 the task failed or was cancelled, 2 usage error, 3 the call failed.
`;

const OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  model: { type: "string", short: "m" },
  name: { type: "string" },
  priority: { type: "string" },
  system: { type: "string" },
  param: { type: "string", multiple: true },
  watch: { type: "boolean" },
  status: { type: "string", multiple: true },
  query: { type: "string", short: "q" },
  limit: { type: "string" },
  "page-token": { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];

const GLOBAL: readonly string[] = ["url", "api-key", "timeout", "json", "help"];

/** Each command, the options it takes besides the global ones, and how many arguments. */
const COMMANDS: Record<string, { options: readonly string[]; args: number }> = {
  create: { options: ["model", "name", "priority", "system", "param", "watch"], args: 1 },
  list: { options: ["status", "model", "query", "limit", "page-token"], args: 0 },
  get: { options: [], args: 1 },
  watch: { options: [], args: 1 },
  cancel: { options: [], args: 1 },
  retry: { options: [], args: 1 },
  whoami: { options: [], args: 0 },
};

/** Where the CLI reads and writes; a test passes its own. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Read for `create -`. */
  stdin?: AsyncIterable<string | Uint8Array>;
}

/** A mistake in the command line: reported with the usage, exit code 2. */
class UsageError extends Error {}

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Key management talks to the database, not the API: the first key needs no key.
  if (argv[0] === "keys") return runKeys(argv.slice(1), io);
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    // parseArgs explains at length; its first sentence says what is wrong.
    const message = error instanceof Error ? error.message : String(error);
    return usage(io, message.split(". ")[0] ?? message);
  }
  const [command, ...args] = positionals;
  if (values.help === true || command === "help") {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  try {
    if (command === undefined) throw new UsageError("give a command");
    const spec = COMMANDS[command];
    if (spec === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    for (const [name, value] of Object.entries(values)) {
      if (value !== undefined && !GLOBAL.includes(name) && !spec.options.includes(name)) {
        throw new UsageError(`${command} does not take --${name}`);
      }
    }
    if (args.length !== spec.args) {
      throw new UsageError(
        spec.args === 0
          ? `${command} takes no arguments`
          : `${command} takes ${command === "create" ? "a prompt (quote it)" : "a task id"}`,
      );
    }
    const cli = new Cli(values, io);
    return await cli.run(command, args[0] ?? "");
  } catch (error) {
    if (error instanceof UsageError) return usage(io, error.message);
    const connectError = ConnectError.from(error);
    const requestId = connectError.metadata.get("x-request-id");
    const where =
      connectError.code === Code.Unavailable && requestId === null
        ? `cannot reach ${baseUrlOf(values, io)}: `
        : "";
    io.stderr.write(
      `promptline: ${codeName(connectError.code)}: ${where}${connectError.rawMessage}${
        requestId === null ? "" : ` (request id ${requestId})`
      }\n`,
    );
    return EXIT.callFailed;
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(
    `promptline: ${message}\nRun "promptline --help" for the commands and options.\n`,
  );
  return EXIT.usage;
}

function baseUrlOf(values: Values, io: CliIo): string {
  return values.url ?? io.env.PROMPTLINE_URL ?? DEFAULT_URL;
}

class Cli {
  readonly #client: Client<typeof TaskService>;
  readonly #auth: Client<typeof AuthService>;
  readonly #json: boolean;
  readonly #timeoutMs: number;

  constructor(
    private readonly values: Values,
    private readonly io: CliIo,
  ) {
    const baseUrl = baseUrlOf(values, io);
    if (!/^https?:\/\/[^/]/.test(baseUrl)) {
      throw new UsageError(`--url must be an http(s) URL, not ${JSON.stringify(baseUrl)}`);
    }
    const seconds = Number(values.timeout ?? "30");
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new UsageError("--timeout must be a number of seconds above 0");
    }
    this.#timeoutMs = Math.round(seconds * 1000);
    this.#json = values.json === true;
    const apiKey = values["api-key"] ?? io.env.PROMPTLINE_API_KEY;
    const interceptors: Interceptor[] = [];
    if (apiKey !== undefined && apiKey !== "") {
      interceptors.push((next) => (req) => {
        req.header.set("authorization", `Bearer ${apiKey}`);
        return next(req);
      });
    }
    const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors });
    this.#client = createClient(TaskService, transport);
    this.#auth = createClient(AuthService, transport);
  }

  async run(command: string, arg: string): Promise<number> {
    const call = { timeoutMs: this.#timeoutMs };
    switch (command) {
      case "create": {
        const { task } = await this.#client.createTask(await this.#createRequest(arg), call);
        if (this.values.watch === true) {
          // The task, then the watch's messages: one JSON document per line.
          if (this.#json && task !== undefined) {
            this.io.stdout.write(`${JSON.stringify(toJson(TaskSchema, task))}\n`);
          } else if (!this.#json) {
            this.io.stderr.write(`${task?.id ?? ""}\n`);
          }
          return this.#watch(task?.id ?? "");
        }
        if (this.#json) this.#print(TaskSchema, task);
        else this.io.stdout.write(`${task?.id ?? ""}\n`);
        return EXIT.ok;
      }
      case "list": {
        const response = await this.#client.listTasks(this.#listRequest(), call);
        if (this.#json) {
          this.#print(ListTasksResponseSchema, response);
        } else {
          this.io.stdout.write(`${taskTable(response.tasks)}\n`);
          if (response.nextPageToken !== "") {
            this.io.stderr.write(`more: --page-token ${response.nextPageToken}\n`);
          }
        }
        return EXIT.ok;
      }
      case "get": {
        const response = await this.#client.getTask({ id: arg }, call);
        if (this.#json) this.#print(GetTaskResponseSchema, response);
        else this.io.stdout.write(`${taskDetails(response)}\n`);
        return EXIT.ok;
      }
      case "watch":
        return this.#watch(arg);
      case "cancel":
      case "retry": {
        const { task } =
          command === "cancel"
            ? await this.#client.cancelTask({ id: arg }, call)
            : await this.#client.retryTask({ id: arg }, call);
        if (this.#json) this.#print(TaskSchema, task);
        else this.io.stdout.write(`${task?.id ?? arg} ${statusName(task?.status ?? 0)}\n`);
        return EXIT.ok;
      }
      case "whoami": {
        const who = await this.#auth.whoAmI({}, call);
        if (this.#json) {
          this.#print(WhoAmIResponseSchema, who);
        } else {
          const role = who.user?.role === UserRole.ADMIN ? "admin" : "member";
          const mode = who.authMode === AuthMode.LOCAL ? "local mode, no key needed" : "keys mode";
          const key = who.keyPrefix === "" ? "" : `, key ${who.keyPrefix}…`;
          this.io.stdout.write(`${who.user?.name ?? ""} (${role}${key}; ${mode})\n`);
        }
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  }

  /**
   * Streams a task's output to stdout as it is written, status changes to
   * stderr. The first message carries the output so far and the last one
   * the whole output, so only what was not printed yet is printed.
   */
  async #watch(id: string): Promise<number> {
    let last: Task | undefined;
    let attempt = -1;
    let printed = 0;
    let endsWithNewline = true;
    const write = (text: string) => {
      if (text === "") return;
      this.io.stdout.write(text);
      endsWithNewline = text.endsWith("\n");
    };
    const startAttempt = (n: number) => {
      if (n === attempt) return;
      if (printed > 0) {
        if (!endsWithNewline) write("\n");
        this.io.stderr.write(`(attempt ${n} starts over)\n`);
      }
      attempt = n;
      printed = 0;
    };
    for await (const message of this.#client.watchTask({ id })) {
      if (message.event.case === "task") last = message.event.value;
      if (this.#json) {
        this.io.stdout.write(`${JSON.stringify(toJson(WatchTaskResponseSchema, message))}\n`);
        continue;
      }
      if (message.event.case === "task") {
        const task = message.event.value;
        startAttempt(task.attempts);
        if (task.output.length > printed) {
          write(task.output.slice(printed));
          printed = task.output.length;
        }
      } else if (message.event.case === "output") {
        const delta = message.event.value;
        startAttempt(delta.attempt);
        const end = Number(delta.offset) + delta.text.length;
        if (end > printed) {
          write(delta.text.slice(Math.max(0, printed - Number(delta.offset))));
          printed = end;
        }
      }
    }
    if (!this.#json && printed > 0 && !endsWithNewline) write("\n");
    switch (last?.status) {
      case TaskStatus.COMPLETED:
        return EXIT.ok;
      case TaskStatus.FAILED:
        this.io.stderr.write(`promptline: task ${id} failed: ${errorLine(last.error)}\n`);
        return EXIT.taskNotCompleted;
      case TaskStatus.CANCELLED:
        this.io.stderr.write(`promptline: task ${id} was cancelled\n`);
        return EXIT.taskNotCompleted;
      default:
        this.io.stderr.write(`promptline: the watch of task ${id} ended before the task did\n`);
        return EXIT.taskNotCompleted;
    }
  }

  async #createRequest(promptArg: string) {
    const prompt = promptArg === "-" ? await this.#readStdin() : promptArg;
    const model = this.values.model;
    if (model === undefined || model === "") throw new UsageError("create needs --model <id>");
    return {
      prompt,
      model,
      name: this.values.name ?? "",
      systemPrompt: this.values.system ?? "",
      priority: parsePriority(this.values.priority),
      params: parseParams(this.values.param ?? []),
    };
  }

  #listRequest() {
    const limit = this.values.limit === undefined ? 0 : Number(this.values.limit);
    if (this.values.limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw new UsageError("--limit must be a whole number above 0");
    }
    return {
      statuses: (this.values.status ?? []).flatMap((s) => s.split(",")).map(parseStatus),
      model: this.values.model ?? "",
      query: this.values.query ?? "",
      pageSize: limit,
      pageToken: this.values["page-token"] ?? "",
    };
  }

  async #readStdin(): Promise<string> {
    const stdin = this.io.stdin;
    if (stdin === undefined) throw new UsageError("no stdin to read the prompt from");
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of stdin) {
      text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    }
    return text + decoder.decode();
  }

  #print<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc> | undefined): void {
    if (message === undefined) return;
    this.io.stdout.write(`${JSON.stringify(toJson(schema, message), null, 2)}\n`);
  }
}

const STATUSES: Readonly<Record<string, TaskStatus>> = {
  pending: TaskStatus.PENDING,
  queued: TaskStatus.QUEUED,
  running: TaskStatus.RUNNING,
  completed: TaskStatus.COMPLETED,
  failed: TaskStatus.FAILED,
  cancelled: TaskStatus.CANCELLED,
};
const PRIORITIES: Readonly<Record<string, TaskPriority>> = {
  low: TaskPriority.LOW,
  normal: TaskPriority.NORMAL,
  high: TaskPriority.HIGH,
  critical: TaskPriority.CRITICAL,
};

function parseStatus(name: string): TaskStatus {
  const status = Object.hasOwn(STATUSES, name) ? STATUSES[name] : undefined;
  if (status === undefined) {
    throw new UsageError(
      `--status ${JSON.stringify(name)}: one of ${Object.keys(STATUSES).join(", ")}`,
    );
  }
  return status;
}

function parsePriority(name: string | undefined): TaskPriority {
  if (name === undefined) return TaskPriority.UNSPECIFIED;
  const priority = Object.hasOwn(PRIORITIES, name) ? PRIORITIES[name] : undefined;
  if (priority === undefined) {
    throw new UsageError(
      `--priority ${JSON.stringify(name)}: one of ${Object.keys(PRIORITIES).join(", ")}`,
    );
  }
  return priority;
}

/** `--param key=value` items into TaskParams; `stop` may repeat. */
function parseParams(items: readonly string[]) {
  const params: {
    temperature?: number;
    topP?: number;
    maxTokens?: number;
    seed?: bigint;
    stop: string[];
  } = { stop: [] };
  for (const item of items) {
    const at = item.indexOf("=");
    const key = at < 0 ? item : item.slice(0, at);
    const value = at < 0 ? "" : item.slice(at + 1);
    if (at < 0 || value === "") throw new UsageError(`--param ${item}: write it as key=value`);
    switch (key) {
      case "temperature":
        params.temperature = parseNumber(key, value);
        break;
      case "top_p":
        params.topP = parseNumber(key, value);
        break;
      case "max_tokens":
        params.maxTokens = parseWhole(key, value);
        break;
      case "seed":
        params.seed = BigInt(parseWhole(key, value));
        break;
      case "stop":
        params.stop.push(value);
        break;
      default:
        throw new UsageError(
          `--param ${JSON.stringify(key)}: one of temperature, top_p, max_tokens, seed, stop`,
        );
    }
  }
  return params;
}

function parseNumber(key: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number)) throw new UsageError(`--param ${key} must be a number`);
  return number;
}

function parseWhole(key: string, value: string): number {
  const number = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(number)) {
    throw new UsageError(`--param ${key} must be a whole number`);
  }
  return number;
}
