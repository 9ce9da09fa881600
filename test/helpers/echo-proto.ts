/**
 * The test Echo service (test/fixtures/proto/echo.proto) loaded with @grpc/proto-loader, its message
 * types as TypeScript interfaces, and a typed client constructor.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

export const ECHO_PROTO_PATH = fileURLToPath(new URL("../fixtures/proto/echo.proto", import.meta.url));

/** Full gRPC service name; method paths are `/pilotfish.test.Echo/<Method>`. */
export const ECHO_SERVICE = "pilotfish.test.Echo";
export const ECHO_PATH_PREFIX = `/${ECHO_SERVICE}/`;

/** A request steering the echo server (camelCase, as proto-loader presents it). All fields optional. */
export interface EchoRequest {
  message?: string;
  payload?: Buffer;
  responseSize?: number;
  responseCount?: number;
  intervalMs?: number;
  statusCode?: number;
  statusMessage?: string;
  trailersOnly?: boolean;
  echoMetadata?: boolean;
  responseHeaders?: Record<string, string>;
  responseTrailers?: Record<string, string>;
  hang?: boolean;
  payloadSeed?: number;
  initialDelayMs?: number;
}

/** A request as the server decodes it (defaults filled in). */
export type DecodedEchoRequest = Required<EchoRequest>;

export interface EchoResponse {
  message: string;
  payload: Buffer;
  index: number;
  receivedSize: number;
  receivedSha256: string;
  receivedCount: number;
}

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

export const echoPackageDefinition = protoLoader.loadSync(ECHO_PROTO_PATH, PROTO_LOADER_OPTIONS);

const loaded = grpc.loadPackageDefinition(echoPackageDefinition) as unknown as {
  pilotfish: { test: { Echo: grpc.ServiceClientConstructor } };
};

/** The Echo service definition, for `server.addService`. */
export const echoServiceDefinition: grpc.ServiceDefinition = loaded.pilotfish.test.Echo.service;

/** Typed view of the generated Echo client. */
export interface EchoClient extends grpc.Client {
  Unary(
    req: EchoRequest,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: grpc.requestCallback<EchoResponse>,
  ): grpc.ClientUnaryCall;
  ServerStream(req: EchoRequest, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<EchoResponse>;
  ClientStream(
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: grpc.requestCallback<EchoResponse>,
  ): grpc.ClientWritableStream<EchoRequest>;
  Bidi(md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientDuplexStream<EchoRequest, EchoResponse>;
}

/** Channel options with unlimited message sizes, for the 16 MiB tests. */
export const UNLIMITED_MESSAGE_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
};

/**
 * A plaintext Echo client to 127.0.0.1:<port> (message sizes unlimited). Close it with `client.close()`
 * (the grpc-tests register that with t.after).
 */
export function createEchoClient(port: number, options: grpc.ChannelOptions = {}): EchoClient {
  const Ctor = loaded.pilotfish.test.Echo;
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    ...UNLIMITED_MESSAGE_OPTIONS,
    // Fail fast instead of waiting for reconnection backoff when a test expects UNAVAILABLE.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 500,
    ...options,
  }) as unknown as EchoClient;
}

/** Serializes an EchoRequest to protobuf bytes (for raw HTTP/2 gRPC requests). */
export function serializeEchoRequest(req: EchoRequest): Buffer {
  const def = echoPackageDefinition[ECHO_SERVICE] as protoLoader.ServiceDefinition;
  return def.Unary.requestSerialize(req);
}
