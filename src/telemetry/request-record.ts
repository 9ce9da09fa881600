/**
 * What telemetry reads from one finished (or finishing) request: the RouterCall exposes these as
 * getters over fields it keeps anyway, so nothing is copied unless a span or an access log line
 * asks for it.
 */
import type { IncomingHttpHeaders } from "node:http2";

/** A request as the tracer and the access log see it. */
export interface RequestRecord {
  /** Request headers as received downstream (pseudo-headers included). */
  readonly requestHeaders: IncomingHttpHeaders;
  /** Whether this is a gRPC call. */
  readonly isGrpc: boolean;
  /** Date.now() when the request arrived. */
  readonly startTimeMs: number;
  /** performance.now() when the request arrived. */
  readonly startPerfMs: number;
  /** HTTP status sent downstream (0 when none was sent). */
  readonly responseStatus: number;
  /** gRPC status sent downstream (headers of a trailers-only response, or trailers), if any. */
  readonly grpcStatus: number | undefined;
  /** Envoy response flag ("" when none). */
  readonly flag: string;
  /** Request body bytes received from downstream. */
  readonly bytesReceived: number;
  /** Response body bytes sent downstream. */
  readonly bytesSent: number;
  /** The cluster chosen by the route, if any. */
  readonly upstreamCluster: string | undefined;
  /** Address (ip:port) of the last upstream host tried, if any. */
  readonly upstreamHost: string | undefined;
  /** Attempts beyond the first. */
  readonly retryCount: number;
  /** The x-request-id sent upstream (generated or passed on), if any. */
  readonly requestId: string | undefined;
  /** Downstream peer address, if known. */
  readonly downstreamAddress: string | undefined;
  /** "HTTP/2" or "HTTP/1.1". */
  readonly protocol: string;
  /** URI SANs of the verified downstream client certificate, comma-joined (Envoy %DOWNSTREAM_PEER_URI_SAN%). */
  readonly downstreamPeerUriSan?: string | undefined;
}

/** Parses a grpc-status header value; undefined when absent or malformed. */
export function grpcStatusOf(v: string | string[] | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "number" ? v : Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) ? n : undefined;
}
