/**
 * Request timeouts: the route timeout, gRPC deadlines (`grpc-timeout`) and `max_stream_duration`,
 * reduced to one number per request.
 *
 * Our documented choice (docs/configuration.md) departs from Envoy in one place: when a route's
 * `timeout` is unset, plain HTTP gets Envoy's 15 s but gRPC gets no route timeout. Envoy's 15 s default
 * silently cuts every server-streaming and bidirectional gRPC call after 15 s, one of its most
 * reported surprises (envoy#17697, #35812). A gRPC request is instead bounded by its own
 * `grpc-timeout` deadline, by `max_stream_duration` and by the stream idle timeout. An explicit route
 * timeout, including 0 (disabled), applies to every request alike.
 */
import type { RouteAction } from "../config/model.js";

/** Envoy's route timeout when `timeout` is unset, applied to plain HTTP only. */
export const DEFAULT_HTTP_ROUTE_TIMEOUT_MS = 15_000;

/** Largest value of a grpc-timeout header: at most 8 digits (gRPC over HTTP/2 spec). */
const MAX_GRPC_TIMEOUT_VALUE = 99_999_999;

/**
 * Parses a `grpc-timeout` header: 1 to 8 ASCII digits and a unit (H hours, M minutes, S seconds,
 * m milliseconds, u microseconds, n nanoseconds). Returns milliseconds, sub-millisecond values
 * rounded up (as Envoy does) so that `500u` does not become 0, which callers would read as "no
 * timeout". Anything else (sign, space, empty, 9 digits, unknown unit) is undefined: the header is
 * then ignored, as gRPC servers ignore a malformed one.
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const len = value.length;
  if (len < 2 || len > 9) return undefined;
  let n = 0;
  for (let i = 0; i < len - 1; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  switch (value.charCodeAt(len - 1)) {
    case 0x48 /* H */:
      return n * 3_600_000;
    case 0x4d /* M */:
      return n * 60_000;
    case 0x53 /* S */:
      return n * 1000;
    case 0x6d /* m */:
      return n;
    case 0x75 /* u */:
      return Math.ceil(n / 1000);
    case 0x6e /* n */:
      return Math.ceil(n / 1_000_000);
    default:
      return undefined;
  }
}

/**
 * Formats milliseconds as a `grpc-timeout` value: milliseconds whenever they fit in 8 digits (about
 * 27 hours), else the smallest coarser unit that fits, rounding up so the upstream never gets a
 * shorter deadline than the caller's (gRPC implementations round the same way). A fractional
 * millisecond is rounded up; zero or negative becomes `0m` (deadline already passed).
 */
export function formatGrpcTimeout(ms: number): string {
  if (!(ms > 0)) return "0m";
  const whole = Math.ceil(ms);
  if (whole <= MAX_GRPC_TIMEOUT_VALUE) return `${whole}m`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds <= MAX_GRPC_TIMEOUT_VALUE) return `${seconds}S`;
  const minutes = Math.ceil(ms / 60_000);
  if (minutes <= MAX_GRPC_TIMEOUT_VALUE) return `${minutes}M`;
  return `${Math.min(Math.ceil(ms / 3_600_000), MAX_GRPC_TIMEOUT_VALUE)}H`;
}

/**
 * The timeout to enforce on one request, ms; 0 means none.
 *
 * - Route timeout: `route.timeoutMs` when set (0 disables it); when unset, 15 s for plain HTTP and
 *   none for gRPC.
 * - gRPC deadline (gRPC requests only): the parsed `grpc-timeout`, minus
 *   `grpcTimeoutHeaderOffsetMs` when that leaves something positive (Envoy applies the offset only
 *   then, so an offset larger than the deadline never turns it into "no timeout"), capped by
 *   `grpcTimeoutHeaderMaxMs` when that is > 0. The smaller of it and the route timeout wins: the
 *   client's deadline can shorten the route's bound but never lengthen it. A deadline of 0 (already
 *   expired) becomes 1 ms, so it fails fast instead of meaning "none".
 * - Max stream duration: the route's `maxStreamDurationMs` when set (0 disables it, also overriding
 *   the connection manager's), else `hcmMaxStreamDurationMs`; when > 0 it caps the result.
 *
 * The result is one deadline for the router to arm once. Envoy measures the route timeout from the
 * end of the request and the others from its start; for the unary requests the route timeout is
 * meant for the difference is the upload time, and gRPC streams are not subject to it by default.
 *
 * @param grpcTimeoutMs parseGrpcTimeout() of the request's header; ignored unless isGrpc
 * @param hcmMaxStreamDurationMs the connection manager's max_stream_duration, 0 for none
 */
export function effectiveTimeoutMs(
  route: RouteAction,
  isGrpc: boolean,
  grpcTimeoutMs: number | undefined,
  hcmMaxStreamDurationMs = 0,
): number {
  let timeout = route.timeoutMs ?? (isGrpc ? 0 : DEFAULT_HTTP_ROUTE_TIMEOUT_MS);
  const msd = route.maxStreamDuration;
  if (isGrpc && grpcTimeoutMs !== undefined) {
    let deadline = grpcTimeoutMs;
    const offset = msd.grpcTimeoutHeaderOffsetMs;
    if (offset > 0 && offset < deadline) deadline -= offset;
    const cap = msd.grpcTimeoutHeaderMaxMs;
    if (cap !== undefined && cap > 0 && deadline > cap) deadline = cap;
    if (deadline <= 0) deadline = 1;
    timeout = minTimeout(timeout, deadline);
  }
  const maxDuration = msd.maxStreamDurationMs ?? hcmMaxStreamDurationMs;
  if (maxDuration > 0) timeout = minTimeout(timeout, maxDuration);
  return timeout;
}

/** min() where 0 means "no limit". */
function minTimeout(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return a < b ? a : b;
}
