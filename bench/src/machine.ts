import { execFile } from "node:child_process";
import os from "node:os";
import { promisify } from "node:util";
import pg from "pg";
import { REPO_ROOT } from "./env/paths.js";
import { redisVersion } from "./env/redis.js";

/** What the figures were measured on: a figure means little without it. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
}

export interface GitInfo {
  /** HEAD, or "unknown" outside a git checkout. */
  commit: string;
  /** Uncommitted changes in the work tree: the figures may not be HEAD's. */
  dirty: boolean;
}

export async function machineInfo(
  adminDatabaseUrl: string,
  redisUrl: string,
): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: await postgresVersion(adminDatabaseUrl),
    redis: await redisVersion(redisUrl),
  };
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    return rows[0]?.server_version ?? "unknown";
  } finally {
    await client.end();
  }
}

/** Read-only git: the commit measured, and whether the work tree differs from it. */
export async function gitInfo(): Promise<GitInfo> {
  const git = async (...args: string[]) =>
    (await promisify(execFile)("git", args, { cwd: REPO_ROOT })).stdout.trim();
  try {
    const commit = await git("rev-parse", "HEAD");
    const status = await git("status", "--porcelain", "--untracked-files=no");
    return { commit, dirty: status !== "" };
  } catch {
    return { commit: "unknown", dirty: false };
  }
}

/** The 1-minute load average: how busy the machine was besides the bench. */
export function loadAverage(): number {
  return os.loadavg()[0] ?? 0;
}
