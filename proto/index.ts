// The one entry point for generated code, shared by server and web:
// promptline.v1, and gRPC's standard grpc.health.v1 the server also serves.
export * from "./gen/grpc/health/v1/health_pb.js";
export * from "./gen/promptline/v1/auth_pb.js";
export * from "./gen/promptline/v1/task_pb.js";
export * from "./gen/promptline/v1/template_pb.js";
