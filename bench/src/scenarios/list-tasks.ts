import { TaskStatus } from "@promptline/proto";
import type pg from "pg";
import { v7 as uuidv7 } from "uuid";
import type { FigureSpec } from "../figures.js";
import { connectClient, promptlineEnv, type TaskClient } from "../promptline.js";
import { Scope } from "../scope.js";
import { summarize } from "../stats.js";
import { repeat, type Scenario } from "./scenario.js";

/** The search word: in about 2 % of prompts, like a term a user looks for. */
const NEEDLE = "ultramarine";
const NEEDLE_SHARE = 0.02;
const FILTER_MODEL = "simulator/lorem";
const PAGE_SIZE = 50;

type QueryKind = "first_page" | "filtered" | "search";

const QUERIES: Record<QueryKind, { label: string; call: (client: TaskClient) => Promise<number> }> =
  {
    first_page: {
      label: "first page, no filter",
      call: async (client) => (await client.listTasks({ pageSize: PAGE_SIZE })).tasks.length,
    },
    filtered: {
      label: `status failed + model ${FILTER_MODEL}`,
      call: async (client) =>
        (
          await client.listTasks({
            pageSize: PAGE_SIZE,
            statuses: [TaskStatus.FAILED],
            model: FILTER_MODEL,
          })
        ).tasks.length,
    },
    search: {
      label: `text search "${NEEDLE}"`,
      call: async (client) =>
        (await client.listTasks({ pageSize: PAGE_SIZE, query: NEEDLE })).tasks.length,
    },
  };
const KINDS = Object.keys(QUERIES) as QueryKind[];

/** Scenario 5: ListTasks p99 on a table of 100,000 tasks. */
export const listTasks: Scenario = {
  id: "list-tasks",
  title: "5. ListTasks",
  async run(ctx) {
    const { rows, queries, warmupQueries } = ctx.settings.listTasks;
    const specs: FigureSpec[] = KINDS.map((kind) => ({
      id: `${kind}_p99`,
      label: `p99, ${QUERIES[kind].label}`,
      unit: "ms",
      better: "lower",
      role: "promptline",
      targets: [{ kind: "absolute", op: "<", value: 20 }],
    }));
    // One table for every run: filling it is the slow part, and the runs only read.
    const { samples, seeded } = await Scope.with(async (outer) => {
      const env = await promptlineEnv(ctx, outer);
      ctx.log(`  inserting ${rows.toLocaleString("en-US")} tasks`);
      const seeded = await seedTasks(env.database.pool, rows);
      const samples = await repeat(ctx, "list-tasks", async (scope, repetition) => {
        // Started through the scenario-wide env, stopped with this run.
        const api = scope.add(await env.start("api"), (p) => p.stop());
        if (api.url === undefined) throw new Error("the api process has no URL");
        const client = connectClient(api.url);
        const values: Record<string, number> = {};
        const detail: Record<string, unknown> = {};
        for (let k = 0; k < KINDS.length; k++) {
          const kind = KINDS[(k + repetition) % KINDS.length];
          if (kind === undefined) continue;
          const latencies = await closedLoop(client, QUERIES[kind].call, warmupQueries, queries);
          const summary = summarize(latencies);
          values[`${kind}_p99`] = summary.p99;
          detail[kind] = summary;
        }
        return { values, detail };
      });
      return { samples, seeded };
    });
    return {
      method: [
        `${rows.toLocaleString("en-US")} tasks inserted with plain SQL (UUIDv7 ids over 30 days; ${seeded.completed} completed, ${seeded.failed} failed, ${seeded.cancelled} cancelled; models simulator/echo and ${FILTER_MODEL}; prompts of 8–20 words, "${NEEDLE}" in ${seeded.withNeedle} of them), then VACUUM ANALYZE, as autovacuum would have done on a table this old.`,
        `A fresh api process per run; ${warmupQueries} warm-up calls, then ${queries} calls one after another (page size ${PAGE_SIZE}) for each query, over Connect; latency at the client. Each call must return tasks.`,
      ],
      specs,
      samples,
    };
  },
};

async function closedLoop(
  client: TaskClient,
  call: (client: TaskClient) => Promise<number>,
  warmup: number,
  count: number,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const start = performance.now();
    const returned = await call(client);
    const elapsed = performance.now() - start;
    if (returned === 0) throw new Error("ListTasks returned no tasks: the query measures nothing");
    if (i >= warmup) latencies.push(elapsed);
  }
  return latencies;
}

interface Seeded {
  completed: number;
  failed: number;
  cancelled: number;
  withNeedle: number;
}

const CHUNK = 5_000;
const DAY_MS = 86_400_000;

/** Fills `tasks` with `count` finished tasks, deterministically (seeded PRNG). */
async function seedTasks(pool: pg.Pool, count: number): Promise<Seeded> {
  const random = mulberry32(8);
  const words = Array.from({ length: 600 }, (_, i) => pseudoWord(i));
  const seeded: Seeded = { completed: 0, failed: 0, cancelled: 0, withNeedle: 0 };
  const start = Date.now() - 30 * DAY_MS;
  const step = (30 * DAY_MS) / count;
  for (let offset = 0; offset < count; offset += CHUNK) {
    const n = Math.min(CHUNK, count - offset);
    const cols = {
      id: [] as string[],
      prompt: [] as string[],
      model: [] as string[],
      status: [] as string[],
      output: [] as string[],
      at: [] as string[],
    };
    for (let i = 0; i < n; i++) {
      const msecs = Math.floor(start + (offset + i) * step);
      const length = 8 + Math.floor(random() * 13);
      const prompt = Array.from({ length }, () => words[Math.floor(random() * words.length)]);
      if (random() < NEEDLE_SHARE) {
        prompt[Math.floor(random() * length)] = NEEDLE;
        seeded.withNeedle += 1;
      }
      const roll = random();
      const status = roll < 0.9 ? "completed" : roll < 0.97 ? "failed" : "cancelled";
      seeded[status] += 1;
      cols.id.push(uuidv7({ msecs }));
      cols.prompt.push(prompt.join(" "));
      cols.model.push(random() < 0.6 ? "simulator/echo" : FILTER_MODEL);
      cols.status.push(status);
      cols.output.push(status === "completed" ? `Echo: ${prompt.slice(0, 6).join(" ")}` : "");
      cols.at.push(new Date(msecs).toISOString());
    }
    await pool.query(
      `insert into tasks (id, prompt, model, status, output, attempts,
         created_at, queued_at, started_at, completed_at, updated_at,
         error_code, error_message)
       select id, prompt, model, status, output, 1, at, at, at, at, at,
         case status when 'failed' then 'PROVIDER_SERVER_ERROR' when 'cancelled' then 'CANCELLED' end,
         case status when 'failed' then 'simulated 500' when 'cancelled' then 'cancelled by user' end
       from unnest($1::uuid[], $2::text[], $3::text[], $4::task_status[], $5::text[], $6::timestamptz[])
         as t(id, prompt, model, status, output, at)`,
      [cols.id, cols.prompt, cols.model, cols.status, cols.output, cols.at],
    );
  }
  await pool.query("vacuum (analyze) tasks");
  return seeded;
}

/** A pronounceable made-up word per index, so prompts look like text to the search parser. */
function pseudoWord(i: number): string {
  const consonants = "bcdfghklmnprstvz";
  const vowels = "aeiou";
  let word = "";
  let n = i + 7;
  for (let k = 0; k < 3; k++) {
    word += (consonants[n % consonants.length] ?? "") + (vowels[(n >> 4) % vowels.length] ?? "");
    n = Math.floor(n / 3) + 11 * (k + 1);
  }
  return word;
}

/** A small seeded PRNG: the same table on every run and every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
