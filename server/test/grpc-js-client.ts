import {
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/** A plain @grpc/grpc-js client over HTTP/2 cleartext, as another service would use. */
export function grpcJsClient(baseUrl: string): grpc.Client {
  return new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure());
}

/**
 * One unary call through @grpc/grpc-js, serialised with the protobuf-es
 * schemas, so tests exercise real gRPC framing without generated grpc stubs.
 */
export function grpcUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  metadata = new grpc.Metadata(),
): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/${method.parent.typeName}/${method.name}`,
      (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
      (bytes: Buffer) => fromBinary(method.output, bytes),
      create(method.input, request),
      metadata,
      (error, response) => {
        if (error !== null) reject(error);
        else if (response === undefined) reject(new Error("empty response"));
        else resolve(response);
      },
    );
  });
}
