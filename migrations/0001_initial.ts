import { type Kysely, type RawBuilder, sql } from "kysely";

/**
 * One statement per entry: PGlite (like any extended-protocol client) refuses
 * several commands in one query, and the embedded default must migrate too.
 */
const statements: RawBuilder<unknown>[] = [
  sql`
    create type task_status as enum ('pending', 'queued', 'running', 'completed', 'failed', 'cancelled')
  `,
  sql`
    create type task_priority as enum ('low', 'normal', 'high', 'critical')
  `,
  sql`
    create type attempt_outcome as enum ('running', 'succeeded', 'failed', 'cancelled')
  `,
  sql`
    create type chain_edge_kind as enum ('derived', 'depends_on')
  `,
  sql`
    create table task_chains (
      id uuid primary key default gen_random_uuid(),
      name text not null default '',
      created_at timestamptz not null default now()
    )
  `,
  sql`
    create table tasks (
      id uuid primary key default gen_random_uuid(),
      name text not null default '',
      prompt text not null,
      system_prompt text not null default '',
      model text not null,
      params jsonb not null default '{}',
      priority task_priority not null default 'normal',
      status task_status not null default 'pending',
      output text not null default '',
      error_code text,
      error_message text,
      error_http_status integer,
      parent_task_id uuid references tasks (id) on delete set null,
      chain_id uuid references task_chains (id) on delete set null,
      attempts integer not null default 0,
      max_attempts integer not null default 3,
      prompt_tokens integer,
      completion_tokens integer,
      total_tokens integer,
      latency_ms integer,
      ttft_ms integer,
      cost_usd numeric(14, 8),
      provider text,
      response_model text,
      request_id text,
      metadata jsonb not null default '{}',
      idempotency_key text,
      request_hash text,
      run_at timestamptz,
      timeout_ms integer,
      queue_ttl_ms integer,
      -- Values for {{vars.<name>}} in the prompt.
      vars jsonb not null default '{}',
      -- The prompt as sent, when it had {{references}}: rendered at dispatch.
      rendered_prompt text,
      -- RetryTask starts a new series of attempts; attempt numbers keep counting.
      series_start_attempt integer not null default 1,
      cancel_requested_at timestamptz,
      seq integer not null default 0,
      search tsvector generated always as (
        to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(prompt, ''))
      ) stored,
      created_at timestamptz not null default now(),
      queued_at timestamptz,
      started_at timestamptz,
      completed_at timestamptz,
      updated_at timestamptz not null default now(),
      -- A plain unique constraint: NULLs are distinct, so only set keys are
      -- unique, and ON CONFLICT (idempotency_key) works without a predicate.
      constraint tasks_idempotency_key_key unique (idempotency_key),
      constraint tasks_attempts_check check (attempts >= 0),
      constraint tasks_max_attempts_check check (max_attempts between 1 and 100),
      constraint tasks_name_length_check check (char_length(name) <= 200),
      constraint tasks_parent_not_self_check check (parent_task_id <> id)
    )
  `,
  // The list is newest first by id (UUIDv7, time-ordered): the primary key
  // serves the unfiltered list; these serve the common filters.
  sql`
    create index tasks_status_id_idx on tasks (status, id desc)
  `,
  sql`
    create index tasks_model_id_idx on tasks (model, id desc)
  `,
  // The recovery sweep looks at the few tasks waiting or running.
  sql`
    create index tasks_active_idx on tasks (status, updated_at) where status in ('queued', 'running')
  `,
  // Queue stats read the last hour of finished tasks; retention deletes the oldest.
  sql`
    create index tasks_completed_at_idx on tasks (completed_at) where completed_at is not null
  `,
  sql`
    create index tasks_parent_task_id_idx on tasks (parent_task_id)
  `,
  sql`
    create index tasks_chain_id_idx on tasks (chain_id)
  `,
  sql`
    create index tasks_dispatch_idx on tasks (run_at nulls first, created_at) where status = 'pending'
  `,
  sql`
    create index tasks_search_idx on tasks using gin (search)
  `,
  sql`
    create table task_attempts (
      id bigint generated always as identity primary key,
      task_id uuid not null references tasks (id) on delete cascade,
      attempt integer not null,
      worker_id text,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      outcome attempt_outcome not null default 'running',
      error_code text,
      error_message text,
      http_status integer,
      latency_ms integer,
      ttft_ms integer,
      prompt_tokens integer,
      completion_tokens integer,
      constraint task_attempts_task_id_attempt_key unique (task_id, attempt)
    )
  `,
  sql`
    create table task_events (
      task_id uuid not null references tasks (id) on delete cascade,
      seq integer not null,
      type text not null,
      from_status task_status,
      to_status task_status not null,
      at timestamptz not null default clock_timestamp(),
      data jsonb not null default '{}',
      primary key (task_id, seq),
      constraint task_events_type_check check (type in ('created', 'status'))
    )
  `,
  sql`
    create table task_chain_edges (
      chain_id uuid references task_chains (id) on delete cascade,
      parent_id uuid not null references tasks (id) on delete cascade,
      child_id uuid not null references tasks (id) on delete cascade,
      kind chain_edge_kind not null,
      name text,
      primary key (parent_id, child_id),
      constraint task_chain_edges_not_self_check check (parent_id <> child_id)
    )
  `,
  sql`
    create index task_chain_edges_child_id_idx on task_chain_edges (child_id)
  `,
  sql`
    create table templates (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      description text not null default '',
      prompt text not null,
      system_prompt text not null default '',
      model text not null,
      params jsonb not null default '{}',
      variables jsonb not null default '[]',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint templates_name_key unique (name)
    )
  `,

  sql`
    create function set_updated_at() returns trigger
    language plpgsql as $$
    begin
      new.updated_at := now();
      return new;
    end
    $$
  `,
  sql`
    create trigger tasks_set_updated_at before update on tasks
      for each row execute function set_updated_at()
  `,
  sql`
    create trigger templates_set_updated_at before update on templates
      for each row execute function set_updated_at()
  `,

  sql`
    -- The lifecycle in one place: the only moves a task may make.
    create function task_transition_allowed(from_status task_status, to_status task_status)
    returns boolean
    language sql immutable as $$
      select case from_status
        when 'pending' then to_status in ('queued', 'cancelled', 'failed')
        when 'queued' then to_status in ('running', 'cancelled', 'failed', 'pending')
        when 'running' then to_status in ('completed', 'failed', 'cancelled', 'queued')
        -- queued: RetryTask; pending: retried from an upstream node, waiting for it again
        when 'failed' then to_status in ('queued', 'pending')
        when 'cancelled' then to_status in ('queued', 'pending')
        else false
      end
    $$
  `,
  sql`
    -- SQLSTATE PT001 is Promptline's own ("PT" is no class PostgreSQL uses),
    -- so the application recognises a refused transition by code alone.
    create function tasks_guard_transition() returns trigger
    language plpgsql as $$
    begin
      if not task_transition_allowed(old.status, new.status) then
        raise exception using
          errcode = 'PT001',
          message = format('illegal task transition: %s -> %s (task %s)', old.status, new.status, old.id),
          table = 'tasks',
          column = 'status',
          constraint = 'tasks_status_transition';
      end if;
      new.seq := old.seq + 1;
      return new;
    end
    $$
  `,
  sql`
    create trigger tasks_guard_transition before update of status on tasks
      for each row when (old.status is distinct from new.status)
      execute function tasks_guard_transition()
  `,
  sql`
    create function tasks_start_seq() returns trigger
    language plpgsql as $$
    begin
      new.seq := 1;
      return new;
    end
    $$
  `,
  sql`
    create trigger tasks_start_seq before insert on tasks
      for each row execute function tasks_start_seq()
  `,
  sql`
    create function tasks_log_event() returns trigger
    language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into task_events (task_id, seq, type, from_status, to_status)
        values (new.id, new.seq, 'created', null, new.status);
      else
        insert into task_events (task_id, seq, type, from_status, to_status, data)
        values (
          new.id, new.seq, 'status', old.status, new.status,
          jsonb_strip_nulls(jsonb_build_object(
            'attempt', new.attempts,
            'error_code', new.error_code,
            'error_message', new.error_message
          ))
        );
      end if;
      return null;
    end
    $$
  `,
  sql`
    create trigger tasks_log_created after insert on tasks
      for each row execute function tasks_log_event()
  `,
  sql`
    create trigger tasks_log_status after update of status on tasks
      for each row when (old.status is distinct from new.status)
      execute function tasks_log_event()
  `,

  sql`
    -- The parent's chain, made on first use. Two children of one chainless
    -- parent may race here: the guarded UPDATE lets one chain win and the
    -- loser adopts it.
    create function task_chain_of_parent(parent uuid) returns uuid
    language plpgsql as $$
    declare
      parent_chain uuid;
      parent_name text;
      made_chain uuid;
    begin
      select t.chain_id, t.name into parent_chain, parent_name from tasks t where t.id = parent;
      if not found or parent_chain is not null then
        return parent_chain;
      end if;
      insert into task_chains (name) values (parent_name) returning id into made_chain;
      update tasks set chain_id = made_chain where id = parent and chain_id is null;
      if found then
        return made_chain;
      end if;
      delete from task_chains where id = made_chain;
      select t.chain_id into parent_chain from tasks t where t.id = parent;
      return parent_chain;
    end
    $$
  `,
  sql`
    -- A child joins its parent's chain, unless this statement sets chain_id itself.
    create function tasks_join_parent_chain() returns trigger
    language plpgsql as $$
    begin
      if new.parent_task_id is null then
        return new;
      end if;
      if tg_op = 'UPDATE' then
        if new.parent_task_id is not distinct from old.parent_task_id
          or new.chain_id is distinct from old.chain_id then
          return new;
        end if;
      elsif new.chain_id is not null then
        return new;
      end if;
      new.chain_id := coalesce(task_chain_of_parent(new.parent_task_id), new.chain_id);
      return new;
    end
    $$
  `,
  sql`
    create trigger tasks_join_parent_chain_on_insert before insert on tasks
      for each row when (new.parent_task_id is not null)
      execute function tasks_join_parent_chain()
  `,
  sql`
    create trigger tasks_join_parent_chain_on_update before update of parent_task_id on tasks
      for each row when (old.parent_task_id is distinct from new.parent_task_id)
      execute function tasks_join_parent_chain()
  `,
  sql`
    -- parent_task_id -> derived edge. Every write is conditional on a real
    -- change, which is what ends the ping-pong with the edge trigger below.
    create function tasks_sync_derived_edge() returns trigger
    language plpgsql as $$
    declare
      chain uuid := new.chain_id;
    begin
      if tg_op = 'UPDATE' and old.parent_task_id is not null
        and old.parent_task_id is distinct from new.parent_task_id then
        delete from task_chain_edges
        where parent_id = old.parent_task_id and child_id = new.id and kind = 'derived';
      end if;
      if new.parent_task_id is null then
        return null;
      end if;
      if chain is null then
        -- The parent was not visible to the BEFORE trigger (a later row of the same INSERT).
        chain := task_chain_of_parent(new.parent_task_id);
        if chain is not null then
          update tasks set chain_id = chain where id = new.id and chain_id is null;
        end if;
      end if;
      insert into task_chain_edges (chain_id, parent_id, child_id, kind)
      values (chain, new.parent_task_id, new.id, 'derived')
      on conflict (parent_id, child_id) do update
        set kind = 'derived', chain_id = excluded.chain_id
        where task_chain_edges.kind <> 'derived'
          or task_chain_edges.chain_id is distinct from excluded.chain_id;
      return null;
    end
    $$
  `,
  sql`
    -- WHEN clauses keep the common case (a task without a parent) off the
    -- after-trigger queue entirely.
    create trigger tasks_sync_derived_edge_on_insert after insert on tasks
      for each row when (new.parent_task_id is not null)
      execute function tasks_sync_derived_edge()
  `,
  sql`
    create trigger tasks_sync_derived_edge_on_update after update of parent_task_id on tasks
      for each row when (old.parent_task_id is distinct from new.parent_task_id)
      execute function tasks_sync_derived_edge()
  `,
  sql`
    -- derived edge -> parent_task_id, for edges written with plain SQL.
    -- depends_on edges never touch parent_task_id.
    create function task_chain_edges_sync_parent() returns trigger
    language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') and old.kind = 'derived' then
        if tg_op = 'DELETE' or new.kind <> 'derived'
          or new.parent_id <> old.parent_id or new.child_id <> old.child_id then
          update tasks set parent_task_id = null
          where id = old.child_id and parent_task_id = old.parent_id;
        end if;
      end if;
      if tg_op in ('INSERT', 'UPDATE') and new.kind = 'derived' then
        update tasks set parent_task_id = new.parent_id
        where id = new.child_id and parent_task_id is distinct from new.parent_id;
      end if;
      return null;
    end
    $$
  `,
  sql`
    create trigger task_chain_edges_sync_parent after insert or update or delete on task_chain_edges
      for each row execute function task_chain_edges_sync_parent()
  `,

  sql`
    create view task_stats as
    select
      model,
      status,
      count(*) as count,
      avg(latency_ms)::double precision as avg_latency_ms,
      percentile_cont(0.5) within group (order by latency_ms) as p50_latency_ms,
      percentile_cont(0.95) within group (order by latency_ms) as p95_latency_ms,
      coalesce(sum(prompt_tokens), 0) as prompt_tokens,
      coalesce(sum(completion_tokens), 0) as completion_tokens,
      coalesce(sum(total_tokens), 0) as total_tokens,
      coalesce(sum(cost_usd), 0) as cost_usd
    from tasks
    group by model, status
  `,
  sql`
    -- Every edge above root (negative depth) and below it (positive depth).
    -- The recursion walks (task, distance) pairs, deduplicated by UNION, so a
    -- diamond-shaped DAG costs nodes x depth rather than one row per path; the
    -- depth bound ends it on a cycle. An edge's depth is its shortest distance.
    create function task_lineage(root uuid)
    returns table (parent_id uuid, child_id uuid, kind chain_edge_kind, name text, depth integer)
    language sql stable as $$
      with recursive
        above (task_id, distance) as (
          select root, 0
          union
          select e.parent_id, a.distance + 1
          from above a
          join task_chain_edges e on e.child_id = a.task_id
          where a.distance < 1000
        ),
        below (task_id, distance) as (
          select root, 0
          union
          select e.child_id, b.distance + 1
          from below b
          join task_chain_edges e on e.parent_id = b.task_id
          where b.distance < 1000
        ),
        ancestor_edges as (
          select e.parent_id, e.child_id, e.kind, e.name, -(min(a.distance) + 1) as depth
          from above a
          join task_chain_edges e on e.child_id = a.task_id
          group by e.parent_id, e.child_id, e.kind, e.name
        ),
        descendant_edges as (
          select e.parent_id, e.child_id, e.kind, e.name, min(b.distance) + 1 as depth
          from below b
          join task_chain_edges e on e.parent_id = b.task_id
          group by e.parent_id, e.child_id, e.kind, e.name
        )
      select l.parent_id, l.child_id, l.kind, l.name, l.depth::integer
      from (
        select * from ancestor_edges
        union all
        select * from descendant_edges
      ) l
      order by l.depth, l.parent_id, l.child_id
    $$
  `,
];

/**
 * The whole first schema: tasks and their attempts, the per-task event log,
 * chains and their edges, templates, the lifecycle guard and the triggers that
 * keep `parent_task_id` and the `derived` edges in step.
 *
 * Frozen in time: change the schema with a new migration, never by editing
 * this one. Plain PostgreSQL only (no extensions), so it runs on PGlite too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) {
    await statement.execute(db);
  }
}
