import { create } from "@bufbuild/protobuf";
import { createConnectQueryKey } from "@connectrpc/connect-query";
import { GetTaskResponseSchema, type Task, TaskService } from "@promptline/proto";
import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { transport } from "./api";

/**
 * Opens a task the server just created: its page starts from the task in the
 * answer (seeded as that page's GetTask result) instead of a loading state.
 */
export function useOpenCreatedTask(): (task: Task) => Promise<void> {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return async (task) => {
    queryClient.setQueryData(
      createConnectQueryKey({
        schema: TaskService.method.getTask,
        input: { id: task.id },
        transport,
        cardinality: "finite",
      }),
      create(GetTaskResponseSchema, { task }),
    );
    await navigate(`/tasks/${task.id}`);
  };
}
