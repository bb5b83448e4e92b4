import { type Compilable, CompiledQuery, type Kysely } from "kysely";
import type { DB } from "./schema.js";

/** The SQL of every precompiled statement, and the name it is prepared under. */
const statementNames = new Map<string, string>();

/**
 * The name to prepare `sql` under on a connection, if it is a precompiled
 * statement: PostgreSQL then parses and plans it once per connection
 * instead of on every call.
 */
export function preparedStatementName(sql: string): string | undefined {
  return statementNames.get(sql);
}

/** Where one call's value goes in a statement compiled once. */
class Slot {
  constructor(readonly name: string) {}
}

/**
 * A statement kysely builds and compiles once per process, then runs with
 * each call's values. Building a query is cheap, but a worker runs its claim
 * and its end statement for every task, and with their column lists that was
 * a tenth of its CPU.
 *
 * `build` receives a stand-in for each named value and must pass each one
 * to kysely untouched (as a value, not inside an expression it computes), so
 * that it becomes a parameter; compiling checks that every one did. Values
 * that never change may be written into the query as usual. On a pg pool the
 * statement is also prepared by name ({@link preparedStatementName}).
 */
export function precompiled<P extends object, R>(
  names: readonly NoInfer<keyof P & string>[],
  build: (db: Kysely<DB>, values: P) => Compilable<R>,
): (db: Kysely<DB>, values: P) => Promise<R[]> {
  let compiled: { sql: string; parameters: readonly unknown[] } | undefined;
  const compile = (db: Kysely<DB>) => {
    const slots = Object.fromEntries(names.map((name) => [name, new Slot(name)])) as unknown as P;
    const query = build(db, slots).compile();
    const used = new Set(query.parameters.flatMap((p) => (p instanceof Slot ? [p.name] : [])));
    const lost = names.filter((name) => !used.has(name));
    if (lost.length > 0)
      throw new Error(`precompiled statement lost its values ${lost.join(", ")}`);
    return { sql: query.sql, parameters: query.parameters };
  };
  return async (db, values) => {
    compiled ??= compile(db);
    const parameters = compiled.parameters.map((p) =>
      p instanceof Slot ? values[p.name as keyof P] : p,
    );
    return (await db.executeQuery<R>(CompiledQuery.raw(compiled.sql, parameters))).rows;
  };
}
