import { type ConnectError, createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import {
  type GetTaskLineageResponse,
  type Task,
  TaskService,
  WatchTasksResponse_Change,
} from "@promptline/proto";
import type { UseQueryResult } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { connection } from "../api";
import { isActive } from "../format";
import { coalesce } from "../live/coalesce";
import { type LiveStatus, runWatchLoop } from "../live/watchLoop";
import { POLL_INTERVAL_MS } from "../polling";
import { touchesLineage } from "./lineage";

/** WatchTasks sends a heartbeat every 15 s; three missed ones mean the connection is dead. */
const IDLE_TIMEOUT_MS = 45_000;
/** Changes closer together than this cause one refetch: a chain's steps change in bursts. */
const REFETCH_GAP_MS = 250;

/** Options for {@link useLineage}. */
export interface UseLineageOptions {
  /** The chain the task belongs to ("" for none): its new tasks change the lineage too. */
  chainId: string;
  /** Told about every change to the task itself, as WatchTasks reports it. */
  onTaskChanged?: (task: Task) => void;
}

/** What {@link useLineage} gives the detail page. */
export interface LineageWatch {
  query: UseQueryResult<GetTaskLineageResponse, ConnectError>;
  live: LiveStatus;
}

/**
 * A task's lineage (GetTaskLineage), kept live: WatchTasks reports changes
 * anywhere, and one that touches the lineage (a status change of one of its
 * tasks, a new child, a new task in the chain, any new task, which may
 * depend on one of them) refetches it. While the stream can't be used the
 * lineage is polled every 2 s as long as one of its tasks is unfinished.
 */
export function useLineage(id: string, options: UseLineageOptions): LineageWatch {
  const transport = useTransport();
  const [live, setLive] = useState<LiveStatus>({ mode: "connecting" });
  const query = useQuery(
    TaskService.method.getTaskLineage,
    { id },
    {
      refetchInterval: (q) =>
        live.mode === "polling" && q.state.data?.tasks.some((t) => isActive(t.status))
          ? POLL_INTERVAL_MS
          : false,
    },
  );
  const lineage = query.data;

  // The stream reads the latest of these without restarting.
  const latest = useRef({ lineage, options });
  useEffect(() => {
    latest.current = { lineage, options };
  });

  const loaded = lineage !== undefined;
  const { refetch } = query;
  useEffect(() => {
    if (!loaded) return;
    const controller = new AbortController();
    const client = createClient(TaskService, transport);
    // Not joined to a fetch already on its way: that one may predate the change.
    const refetchSoon = coalesce(() => refetch(), REFETCH_GAP_MS);
    void runWatchLoop({
      signal: controller.signal,
      // Unfiltered even for a task without links: a new task may depend on
      // it (depends_on only), and WatchTasks has no filter for that.
      open: (signal) => client.watchTasks({}, { signal }),
      onMessage: (msg) => {
        const task = msg.task;
        const { lineage: current, options: opts } = latest.current;
        if (task === undefined || current === undefined) return "continue";
        if (task.id === id && msg.change !== WatchTasksResponse_Change.DELETED) {
          opts.onTaskChanged?.(task);
        }
        const created = msg.change === WatchTasksResponse_Change.CREATED;
        if (touchesLineage(task, current, opts.chainId, created)) refetchSoon.request();
        return "continue";
      },
      onStatus: setLive,
      // Changes made while no stream was open were not sent.
      onConnected: () => {
        connection.report();
        refetchSoon.request();
      },
      idleTimeoutMs: IDLE_TIMEOUT_MS,
    });
    return () => {
      controller.abort();
      refetchSoon.cancel();
    };
  }, [id, loaded, transport, refetch]);

  return { query, live };
}
