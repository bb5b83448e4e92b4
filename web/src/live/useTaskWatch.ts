import { type ConnectError, createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import { type GetTaskResponse, type Task, TaskService } from "@promptline/proto";
import type { UseQueryResult } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { connection } from "../api";
import { POLL_INTERVAL_MS } from "../polling";
import {
  applyTaskSnapshot,
  applyWatchMessage,
  initialTaskWatchState,
  isWatchDone,
  type TaskWatchState,
  watchCursor,
  watchedTask,
} from "./taskWatch";
import { type LiveStatus, runWatchLoop } from "./watchLoop";

/** What {@link useTaskWatch} gives the detail page. */
export interface TaskWatch {
  /** The GetTask query: loading, not-found and error states come from it. */
  query: UseQueryResult<GetTaskResponse, ConnectError>;
  /** The task as best known, with the output written so far; undefined until the first answer. */
  task: Task | undefined;
  live: LiveStatus;
}

/**
 * Keeps one task up to date: WatchTask streams its status and output while it
 * is pending, queued or running; when the stream fails the task is polled
 * every 2 s (GetTask) and the stream is retried with backoff. Both sources
 * feed one state, so switching between them loses no output.
 *
 * Mount it under a `key` of the task id: the state is for one task.
 */
export function useTaskWatch(id: string): TaskWatch {
  const transport = useTransport();
  const [live, setLive] = useState<LiveStatus>({ mode: "connecting" });
  const stateRef = useRef<TaskWatchState>(initialTaskWatchState);
  const [state, setState] = useState<TaskWatchState>(initialTaskWatchState);
  const update = useCallback((next: TaskWatchState) => {
    if (next === stateRef.current) return;
    stateRef.current = next;
    setState(next);
  }, []);

  const done = isWatchDone(state);
  const query = useQuery(
    TaskService.method.getTask,
    { id },
    { refetchInterval: live.mode === "polling" && !done ? POLL_INTERVAL_MS : false },
  );

  const polled = query.data?.task;
  useEffect(() => {
    if (polled !== undefined) update(applyTaskSnapshot(stateRef.current, polled));
  }, [polled, update]);

  const { refetch } = query;
  useEffect(() => {
    if (done) return;
    const controller = new AbortController();
    const client = createClient(TaskService, transport);
    void runWatchLoop({
      signal: controller.signal,
      open: (signal) => client.watchTask({ id, ...watchCursor(stateRef.current) }, { signal }),
      onMessage: (msg) => {
        const step = applyWatchMessage(stateRef.current, msg);
        update(step.state);
        if (step.outcome === "gap") return "reconnect";
        return isWatchDone(step.state) ? "done" : "continue";
      },
      onStatus: setLive,
      onConnected: () => connection.report(),
      // The task is gone (or the id is bad): GetTask says so to the page.
      onFatal: () => void refetch(),
    });
    return () => controller.abort();
  }, [id, done, transport, update, refetch]);

  return { query, task: watchedTask(state), live };
}
