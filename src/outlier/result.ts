/**
 * What one attempt tells the outlier detector, as a number so the request path allocates nothing:
 * a positive value is an HTTP status (a gRPC status already mapped to HTTP, as Envoy maps it), a
 * negative one a local-origin failure (the sidecar could not get an answer), 0 nothing to report
 * (the sidecar's own rejections: overflow, no route, no healthy host, a client that went away).
 */

/** Attempt results that are not HTTP statuses. */
export const AttemptResult = {
  /** Nothing to record. */
  NONE: 0,
  /** Connection could not be established (Envoy LOCAL_ORIGIN_CONNECT_FAILED). */
  LOCAL_CONNECT_FAILED: -1,
  /** Per-try or route timeout while waiting for the upstream (Envoy LOCAL_ORIGIN_TIMEOUT). */
  LOCAL_TIMEOUT: -2,
  /** The upstream reset the stream or the connection died (Envoy reports these as connect failures). */
  LOCAL_RESET: -3,
} as const;
export type AttemptResult = number;

/**
 * Envoy's Grpc::Utility::grpcToHttpStatus: UNAVAILABLE → 503, DEADLINE_EXCEEDED → 504,
 * RESOURCE_EXHAUSTED → 429 (a success for outlier detection), UNKNOWN/INTERNAL/DATA_LOSS → 500, ...
 */
const GRPC_TO_HTTP: readonly number[] = [
  200, // 0 OK
  499, // 1 CANCELLED
  500, // 2 UNKNOWN
  400, // 3 INVALID_ARGUMENT
  504, // 4 DEADLINE_EXCEEDED
  404, // 5 NOT_FOUND
  409, // 6 ALREADY_EXISTS
  403, // 7 PERMISSION_DENIED
  429, // 8 RESOURCE_EXHAUSTED
  400, // 9 FAILED_PRECONDITION
  409, // 10 ABORTED
  400, // 11 OUT_OF_RANGE
  501, // 12 UNIMPLEMENTED
  500, // 13 INTERNAL
  503, // 14 UNAVAILABLE
  500, // 15 DATA_LOSS
  401, // 16 UNAUTHENTICATED
];

/** HTTP status for a gRPC status code (Envoy: unknown codes → 500). */
export function grpcToHttp(code: number): number {
  return GRPC_TO_HTTP[code] ?? 500;
}

/**
 * The result of an upstream response: the gRPC status (from the trailers, or the headers of a
 * trailers-only response) mapped to HTTP when there is one, else the HTTP status.
 */
export function responseResult(httpStatus: number, grpcStatus: number | string | readonly string[] | undefined): AttemptResult {
  if ((typeof grpcStatus === "string" || typeof grpcStatus === "number") && httpStatus === 200) {
    const code = Number(grpcStatus);
    if (Number.isInteger(code) && code >= 0) return grpcToHttp(code);
  }
  return httpStatus;
}

/** Human name of a result (tests, logs). */
export function describeResult(r: AttemptResult): string {
  switch (r) {
    case AttemptResult.NONE:
      return "none";
    case AttemptResult.LOCAL_CONNECT_FAILED:
      return "connect-failed";
    case AttemptResult.LOCAL_TIMEOUT:
      return "timeout";
    case AttemptResult.LOCAL_RESET:
      return "reset";
    default:
      return String(r);
  }
}
