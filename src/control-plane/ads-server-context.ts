/**
 * What every ADS stream handler (SotW and delta) shares: the cache, the registry, metrics, the logger,
 * plus the small protocol helpers both need.
 */
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "../common/logger.js";
import { PUSH_ORDER, TypeUrl } from "../xds/type-urls.js";
import type { EncodedBodies } from "./ads-server-encoding.js";
import type { AdsMetrics } from "./ads-server-metrics.js";
import type { NodeRegistry } from "./node-registry.js";
import type { PushTracer } from "../telemetry/push-tracer.js";
import type { SnapshotCache } from "./snapshot-cache.js";

/** Dependencies of a stream handler. */
export interface StreamContext {
  /** Where node snapshots come from. */
  readonly cache: SnapshotCache;
  /** Where streams and their ACK/NACK state are recorded. */
  readonly registry: NodeRegistry;
  /** Counters and the push-latency histogram. */
  readonly metrics: AdsMetrics;
  /** Stream lifecycle, NACKs and protocol violations. */
  readonly log: Logger;
  /** DiscoveryResponse.control_plane.identifier. */
  readonly controlPlaneId: string;
  /** Response encodings shared by the streams of a node group (only the nonce differs). */
  readonly bodies: EncodedBodies;
  /** A span per push (until ACK/NACK), when tracing is configured. */
  readonly pushTracer?: PushTracer | undefined;
}

const KNOWN_TYPES = new Set<string>(PUSH_ORDER);

/** Whether we serve this type URL (other types, e.g. SDS, are never answered). */
export function isServedType(typeUrl: string): typeUrl is TypeUrl {
  return KNOWN_TYPES.has(typeUrl);
}

/** LDS and CDS: the types with wildcard subscriptions and full-state SotW responses. */
export function isWildcardType(typeUrl: TypeUrl): boolean {
  return typeUrl === TypeUrl.LISTENER || typeUrl === TypeUrl.CLUSTER;
}

/** Ends a stream with a gRPC status (grpc-js turns an 'error' event into the trailers). */
export function failStream<I, O>(call: ServerDuplexStream<I, O>, details: string): void {
  call.emit("error", { code: GrpcStatus.INVALID_ARGUMENT, details });
}

/**
 * Wires a handler to every way a grpc-js server stream can finish; `onClose` runs exactly once.
 * A client half-close is answered with OK: the client is leaving.
 */
export function onStreamFinished<I, O>(call: ServerDuplexStream<I, O>, onClose: () => void): void {
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    onClose();
  };
  call.on("end", () => {
    finish();
    call.end();
  });
  call.on("cancelled", finish);
  call.on("error", finish);
  call.on("close", finish);
}
