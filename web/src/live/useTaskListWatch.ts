import { createClient } from "@connectrpc/connect";
import { createConnectQueryKey, useTransport } from "@connectrpc/connect-query";
import { type Task, TaskService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useState } from "react";
import { connection } from "../api";
import {
  applyListChange,
  emptyTaskListOverlay,
  type LiveTaskListOptions,
  pruneListOverlay,
  type TaskListFilter,
  type TaskListOverlay,
} from "./taskList";
import { type LiveStatus, runWatchLoop } from "./watchLoop";

/** WatchTasks sends a heartbeat every 15 s; three missed ones mean the connection is dead. */
const LIST_IDLE_TIMEOUT_MS = 45_000;

/** What {@link useTaskListWatch} gives the list page. */
export interface TaskListWatch {
  /** The stream's news, for {@link liveTaskList}. */
  overlay: TaskListOverlay;
  live: LiveStatus;
  /** Call with every new set of fetched rows: forgets the news they already show. */
  prune: (rows: readonly Task[], options: LiveTaskListOptions) => void;
}

/**
 * Keeps a task list live: WatchTasks with the list's filter, its changes
 * gathered in an overlay for the page to lay over the fetched rows. Every
 * (re)connect refetches the list, since changes made while no stream was
 * open were not sent; while the stream is down the page polls instead.
 *
 * `filter` must keep its identity while it means the same (memoize it): a new
 * one restarts the stream.
 */
export function useTaskListWatch(filter: TaskListFilter): TaskListWatch {
  const transport = useTransport();
  const queryClient = useQueryClient();
  const [live, setLive] = useState<LiveStatus>({ mode: "connecting" });
  const [overlay, setOverlay] = useState<TaskListOverlay>(emptyTaskListOverlay);

  useEffect(() => {
    setOverlay(emptyTaskListOverlay);
    const controller = new AbortController();
    const client = createClient(TaskService, transport);
    void runWatchLoop({
      signal: controller.signal,
      open: (signal) => client.watchTasks(filter, { signal }),
      onMessage: (msg) => {
        setOverlay((current) => applyListChange(current, msg));
        return "continue";
      },
      onStatus: setLive,
      idleTimeoutMs: LIST_IDLE_TIMEOUT_MS,
      onConnected: () => {
        connection.report();
        void queryClient.invalidateQueries({
          queryKey: createConnectQueryKey({
            schema: TaskService.method.listTasks,
            transport,
            cardinality: "infinite",
          }),
        });
      },
    });
    return () => controller.abort();
  }, [filter, transport, queryClient]);

  const prune = useCallback((rows: readonly Task[], options: LiveTaskListOptions) => {
    setOverlay((current) => pruneListOverlay(current, rows, options));
  }, []);

  return { overlay, live, prune };
}
