import { type Kysely, type RawBuilder, sql } from "kysely";

/** One statement per entry, as in 0001 (PGlite refuses several in one query). */
const statements: RawBuilder<unknown>[] = [
  // One row per task, written only by the triggers below. task_id has a hash
  // index, not a primary key, on purpose: a btree would let the planner walk
  // task_search in id order and filter, which it prefers for any word the
  // statistics do not list (estimated at 0.5 % of rows) and which then reads
  // every row when few or none match: 116 ms at 100,000 tasks against 0.2 ms
  // through the GIN index. A hash index serves the join and the cascade but
  // has no order, so a list walks `tasks` instead, as before this migration.
  sql`
    create table task_search (
      task_id uuid not null references tasks (id) on delete cascade,
      search tsvector not null
    )
  `,
  sql`
    -- The same text as 0001's generated column. Name and prompt are not
    -- changed after insert today; the update trigger keeps the row right if
    -- they ever are.
    create function tasks_write_search() returns trigger
    language plpgsql as $$
    declare
      words tsvector := to_tsvector('simple', coalesce(new.name, '') || ' ' || coalesce(new.prompt, ''));
    begin
      if tg_op = 'INSERT' then
        insert into task_search (task_id, search) values (new.id, words);
      else
        update task_search set search = words where task_id = new.id;
      end if;
      return null;
    end
    $$
  `,
  // The trigger comes before the copy: creating it locks out concurrent
  // inserts until this migration commits, so the copy below (a new snapshot)
  // sees every task the trigger will not.
  sql`
    create trigger tasks_write_search after insert on tasks
      for each row execute function tasks_write_search()
  `,
  sql`
    create trigger tasks_update_search after update of name, prompt on tasks
      for each row when (old.name is distinct from new.name or old.prompt is distinct from new.prompt)
      execute function tasks_write_search()
  `,
  sql`
    insert into task_search (task_id, search) select id, search from tasks
  `,
  sql`
    create index task_search_task_id_idx on task_search using hash (task_id)
  `,
  sql`
    create index task_search_search_idx on task_search using gin (search)
  `,
  sql`
    drop index tasks_search_idx
  `,
  sql`
    alter table tasks drop column search
  `,
];

/**
 * Moves the text-search vector of name and prompt out of `tasks` into
 * `task_search`, written once when a task is inserted. As a stored generated
 * column, PostgreSQL recomputed it on every UPDATE of the row, and since no
 * status change is HOT (status is indexed), each one re-ran to_tsvector over
 * the prompt and re-inserted every word into the GIN index: measured on
 * 20,000 tasks with 20–200 word prompts, 0.44 ms of backend CPU per status
 * update with the column, 0.30 ms with this table; inserts cost the same.
 *
 * Frozen in time, like 0001–0004.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) {
    await statement.execute(db);
  }
}
