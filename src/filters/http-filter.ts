/**
 * The HTTP filters that run before the router, Envoy's decoder filters reduced to what Pilotfish
 * needs: each looks at a request's headers and connection once, after route selection, and either
 * lets it continue or answers it locally. Replies are preallocated per filter, so a decision costs
 * no allocation.
 */
import type { Socket } from "node:net";
import type { IncomingHttpHeaders } from "node:http2";
import type { PerFilterConfig } from "../config/policy-model.js";
import type { ResponseFlag } from "../listener/response-flags.js";
import type { MatchedRoute } from "../router/route-table.js";

/** What a filter may read of a request. */
export interface FilterRequest {
  /** Request headers, pseudo-headers included. */
  readonly requestHeaders: IncomingHttpHeaders;
  /** Whether the request is gRPC (its local replies are trailers-only with grpc-status). */
  readonly isGrpc: boolean;
  /** The downstream connection's socket (a TLSSocket on TLS listeners); undefined once it is gone. */
  readonly downstreamSocket: Socket | undefined;
}

/** A local answer a filter gives instead of letting the request reach the router. */
export interface LocalReply {
  /** HTTP status for non-gRPC callers. */
  readonly httpStatus: number;
  /** grpc-status for gRPC callers (who always get HTTP 200). */
  readonly grpcStatus: number;
  /** Response flag for stats and the access log. */
  readonly flag: ResponseFlag;
  /** Body for HTTP callers, grpc-message for gRPC ones. */
  readonly message: string;
}

/** One filter instance of one connection manager. */
export interface HttpFilter {
  /** The filter's name in `http_filters`, the key of its `typed_per_filter_config` overrides. */
  readonly name: string;
  /** Decides on a request: undefined continues the chain, a LocalReply ends the request with it. */
  onRequest(req: FilterRequest, route: MatchedRoute | undefined): LocalReply | undefined;
}

/** The most specific `typed_per_filter_config` for `filterName`: the route's, else its virtual host's. */
export function perRouteConfig(route: MatchedRoute | undefined, filterName: string): PerFilterConfig | undefined {
  if (route === undefined) return undefined;
  return route.config.typedPerFilterConfig?.[filterName] ?? route.virtualHost.config.typedPerFilterConfig?.[filterName];
}

/**
 * grpc-status for an HTTP status of a local reply, as Envoy maps it (Utility::httpToGrpcStatus; the
 * table in gRPC's http-grpc-status-mapping.md).
 */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}
