// The one entry point for generated promptline.v1 code, shared by server and web.
export * from "./gen/promptline/v1/task_pb.js";
