import { type Kysely, sql } from "kysely";

/**
 * claim_tasks(ids, worker): the worker's claim in one round trip. A job can
 * reach a worker before its creator marked the task queued (the enqueue and
 * the mark are two steps); the function then takes the task pending → queued
 * itself before queued → running, as two updates, so the guard trigger sees
 * only allowed transitions and each one writes its task_events row. The
 * creator's own mark finds the task past pending and changes nothing.
 *
 * Returns one row per task of `ids` that exists: `claimed` and the task as
 * the function left it, so a caller that claimed nothing can tell why.
 * Frozen in time, like 0001–0003.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function claim_tasks(p_ids uuid[], p_worker_id text)
    returns table (claimed boolean, task tasks)
    language plpgsql as $$
    begin
      update tasks set status = 'queued', queued_at = now()
        where id = any(p_ids) and status = 'pending';
      -- A new statement, so it sees the update above.
      return query
        with c as (
          update tasks t
            set status = 'running', started_at = now(), attempts = t.attempts + 1
            where t.id = any(p_ids) and t.status = 'queued'
              and (t.queue_ttl_ms is null
                or t.queued_at + t.queue_ttl_ms * interval '1 millisecond' >= now())
            returning t
        ), a as (
          insert into task_attempts (task_id, attempt, worker_id)
            select (c.t).id, (c.t).attempts, p_worker_id from c
        )
        select true, c.t from c
        union all
        select false, t from tasks t
          where t.id = any(p_ids) and not exists (select 1 from c where (c.t).id = t.id);
    end
    $$
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function claim_tasks(uuid[], text)`.execute(db);
}
