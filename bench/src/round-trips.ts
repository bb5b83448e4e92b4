import type pg from "pg";
import { sleep } from "./context.js";
import { commandCallsBetween, redisCommandCalls } from "./env/redis.js";

/**
 * An idle PostgreSQL backend reports its transaction counts to
 * pg_stat_database within 10 s (PGSTAT_IDLE_INTERVAL); a busy one at most
 * once a second. Reading after this long counts every commit so far.
 */
const PG_STATS_SETTLE_MS = 11_000;

/** Commits and Redis calls so far, read when both have settled. */
export interface RoundTripMark {
  commits: number;
  redisCalls: Map<string, number>;
}

/**
 * Where the cost per task comes from on a 2-core machine: round trips. The
 * commit count is the database's own (the bench's polling queries included,
 * a few hundred at most); Redis calls are the server's, so they are exact
 * only with a Redis the bench has to itself.
 */
export async function markRoundTrips(pool: pg.Pool, redisUrl: string): Promise<RoundTripMark> {
  await sleep(PG_STATS_SETTLE_MS);
  const { rows } = await pool.query<{ commits: string }>(
    "select xact_commit as commits from pg_stat_database where datname = current_database()",
  );
  return { commits: Number(rows[0]?.commits ?? 0), redisCalls: await redisCommandCalls(redisUrl) };
}

/** Commits and Redis calls per item between two marks, with the Redis calls by command. */
export function roundTripsPer(
  before: RoundTripMark,
  after: RoundTripMark,
  items: number,
): {
  commitsPerItem: number;
  redisCallsPerItem: number;
  redisCallsByCommand: Record<string, number>;
} {
  const byCommand = commandCallsBetween(before.redisCalls, after.redisCalls);
  const perItem = (n: number) => Math.round((n / items) * 100) / 100;
  return {
    commitsPerItem: perItem(after.commits - before.commits),
    redisCallsPerItem: perItem([...byCommand.values()].reduce((a, b) => a + b, 0)),
    redisCallsByCommand: Object.fromEntries(
      [...byCommand].sort((a, b) => b[1] - a[1]).map(([name, n]) => [name, perItem(n)]),
    ),
  };
}

/** Redis calls per item between two readings of INFO commandstats, for baselines without a database of ours. */
export async function redisCallsPer(
  redisUrl: string,
  before: Map<string, number>,
  items: number,
): Promise<{ redisCallsPerItem: number; redisCallsByCommand: Record<string, number> }> {
  const { redisCallsPerItem, redisCallsByCommand } = roundTripsPer(
    { commits: 0, redisCalls: before },
    { commits: 0, redisCalls: await redisCommandCalls(redisUrl) },
    items,
  );
  return { redisCallsPerItem, redisCallsByCommand };
}
