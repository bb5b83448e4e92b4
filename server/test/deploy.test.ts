import { readFileSync } from "node:fs";
import path from "node:path";
import { TaskService } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { READY_PATH } from "../src/api/http-server.js";
import { CONFIG_VARIABLES, loadConfig } from "../src/config.js";

// No Docker engine runs here, so the stack's files are held against the code instead.
const root = path.resolve(import.meta.dirname, "../..");
const service = z.object({
  image: z.string().optional(),
  build: z.unknown().optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  ports: z.array(z.string()).optional(),
  expose: z.array(z.string()).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  healthcheck: z.object({ test: z.array(z.string()) }).optional(),
  deploy: z.object({ replicas: z.number() }).optional(),
});
const compose = z
  .object({ services: z.record(z.string(), service) })
  .parse(parse(readFileSync(path.join(root, "docker-compose.yml"), "utf8"), { merge: true }));
const envoy: unknown = parse(readFileSync(path.join(root, "envoy.yaml"), "utf8"));
const services = compose.services;

function svc(name: string) {
  const found = services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** Resolves compose's ${VAR:-default} the way an empty shell would. */
function envOf(name: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(svc(name).environment ?? {}).map(([k, v]) => [
      k,
      String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1"),
    ]),
  );
}

/** Every value of `key` anywhere in a parsed YAML tree. */
function findAll(node: unknown, key: string): unknown[] {
  if (Array.isArray(node)) return node.flatMap((n) => findAll(n, key));
  if (node !== null && typeof node === "object") {
    return Object.entries(node).flatMap(([k, v]) =>
      k === key ? [v, ...findAll(v, key)] : findAll(v, key),
    );
  }
  return [];
}

describe("docker-compose.yml", () => {
  it("has the design's services", () => {
    expect(Object.keys(services).sort()).toEqual(
      ["api", "envoy", "migrate", "postgres", "redis", "simulator", "worker"].sort(),
    );
  });

  it("runs each Promptline role with a configuration the server accepts", () => {
    for (const name of ["api", "worker"]) {
      const env = envOf(name);
      for (const variable of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(variable);
      const role = svc(name).command?.at(-1);
      const config = loadConfig({ ...env, PROMPTLINE_ROLE: role });
      expect(config.role).toBe(name);
      expect(config.databaseUrl).toMatch(/@postgres:5432\//);
      expect(config.redisUrl).toBe("redis://redis:6379");
    }
    expect(loadConfig(envOf("api")).host).toBe("0.0.0.0");
  });

  it("requires API keys on the API and the workers, and lets browsers send them through Envoy", () => {
    for (const name of ["api", "worker"]) {
      expect(envOf(name).AUTH_MODE).toBe("keys");
      expect(loadConfig({ ...envOf(name), PROMPTLINE_ROLE: name }).authMode).toBe("keys");
    }
    const allowed = findAll(envoy, "allow_headers").join(",").split(/,\s*/);
    expect(allowed).toContain("authorization");
  });

  it("keeps Redis durable and never evicts queue keys", () => {
    const command = svc("redis").command?.join(" ") ?? "";
    expect(command).toContain("--appendonly yes");
    expect(command).toContain("--maxmemory-policy noeviction");
  });

  it("migrates once before the API and workers start", () => {
    expect(svc("migrate").command).toEqual(["pnpm", "db:migrate"]);
    for (const name of ["api", "worker"]) {
      expect(svc(name).depends_on?.migrate?.condition).toBe("service_completed_successfully");
    }
  });

  it("checks the API's health on the path the server answers", () => {
    expect(svc("api").healthcheck?.test.join(" ")).toContain(`:${envOf("api").PORT}${READY_PATH}`);
  });

  it("scales workers", () => {
    expect(svc("worker").deploy?.replicas).toBeGreaterThanOrEqual(2);
  });
});

describe("envoy.yaml", () => {
  it("listens on the port compose publishes and forwards to the api service over h2c", () => {
    const listenerPorts = findAll(envoy, "port_value");
    const published = (svc("envoy").ports ?? []).map((p) => Number(p.split(":")[0]));
    expect(published).toContain(8080);
    expect(listenerPorts).toContain(8080);
    const addresses = findAll(envoy, "socket_address");
    expect(addresses).toContainEqual({ address: "api", port_value: Number(envOf("api").PORT) });
    expect(findAll(envoy, "http2_protocol_options")).toHaveLength(1);
  });

  it("routes the TaskService and health-checks /readyz", () => {
    const prefixes = findAll(envoy, "prefix");
    expect(prefixes).toContain(`/${TaskService.typeName.split(".").slice(0, 2).join(".")}.`);
    expect(findAll(envoy, "path")).toContain(READY_PATH);
  });

  it("lets long server streams live (no route timeout on RPCs)", () => {
    expect(findAll(envoy, "timeout")).toContain("0s");
    expect(findAll(envoy, "stream_idle_timeout")).toEqual(["3600s"]);
  });
});
