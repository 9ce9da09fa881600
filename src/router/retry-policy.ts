/**
 * Retry decisions and back-off, as pure functions of the policy, the outcome of one attempt and an
 * injected Random. Whether a retry actually happens also depends on what these do not see: retries
 * left (`numRetries`), the route timeout, the cluster's retry circuit breaker, and whether the
 * response has already started downstream. Those belong to the router.
 *
 * Semantics follow Envoy's RetryStateImpl (wouldRetryFromHeaders / wouldRetryFromReset):
 *
 * | retry_on               | status in headers        | reset | connect failure | refused stream | per-try timeout |
 * |------------------------|--------------------------|-------|-----------------|----------------|-----------------|
 * | 5xx                    | 500-599                  | yes   | yes             | yes            | yes             |
 * | gateway-error          | 502, 503, 504            | yes   | yes             | yes            | yes             |
 * | reset                  | -                        | yes   | yes             | yes            | yes             |
 * | connect-failure        | -                        | -     | yes             | -              | -               |
 * | refused-stream         | -                        | -     | -               | yes            | -               |
 * | retriable-4xx          | 409                      | -     | -               | -              | -               |
 * | retriable-status-codes | the configured codes     | -     | -               | -              | -               |
 * | gRPC conditions        | grpc-status in HEADERS   | -     | -               | -              | -               |
 *
 * Envoy treats every upstream reset, whatever its cause, as a "5xx" and as a "gateway error" (it
 * will become a 503 or 504 downstream), and a per-try timeout is handled as a local reset, so 5xx,
 * gateway-error and reset all retry it. We keep exactly that: users porting retry policies from
 * Envoy get the same retries. The gRPC conditions only look at a `grpc-status` sent in the response
 * headers (a Trailers-Only response), never at trailers: by the time trailers arrive the response
 * has been streamed to the client and cannot be replayed.
 */
import type { Random } from "../common/clock.js";
import type { RetryPolicyConfig } from "../config/model.js";

/** How one upstream attempt ended, as far as retrying is concerned. */
export type AttemptOutcome =
  | {
      /** Response headers arrived. */
      readonly kind: "response";
      /** `:status` of the response. */
      readonly httpStatus: number;
      /** `grpc-status` when it came in the response headers (Trailers-Only), else undefined. */
      readonly grpcStatusInHeaders: number | undefined;
    }
  | {
      /** The upstream reset the stream or disconnected after the request was sent. */
      readonly kind: "reset";
    }
  | {
      /** No connection could be established (refused, unreachable, connect timeout). */
      readonly kind: "connect-failure";
    }
  | {
      /** The upstream refused the stream (RST_STREAM REFUSED_STREAM or GOAWAY before processing). */
      readonly kind: "refused-stream";
    }
  | {
      /** The attempt exceeded the policy's per-try timeout. */
      readonly kind: "per-try-timeout";
    };

/** Shared outcome objects, so the router reports failures without allocating. */
export const RESET_OUTCOME: AttemptOutcome = Object.freeze({ kind: "reset" });
/** See RESET_OUTCOME. */
export const CONNECT_FAILURE_OUTCOME: AttemptOutcome = Object.freeze({ kind: "connect-failure" });
/** See RESET_OUTCOME. */
export const REFUSED_STREAM_OUTCOME: AttemptOutcome = Object.freeze({ kind: "refused-stream" });
/** See RESET_OUTCOME. */
export const PER_TRY_TIMEOUT_OUTCOME: AttemptOutcome = Object.freeze({ kind: "per-try-timeout" });

/** gRPC status codes named by the gRPC retry conditions. */
export const GrpcStatus = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** Whether the policy asks for another attempt after this outcome (retries left not considered). */
export function retryableOutcome(policy: RetryPolicyConfig, outcome: AttemptOutcome): boolean {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case "response":
      return retryableResponse(policy, outcome.httpStatus, outcome.grpcStatusInHeaders);
    case "reset":
    case "per-try-timeout":
      return on.has("5xx") || on.has("gateway-error") || on.has("reset");
    case "connect-failure":
      return on.has("5xx") || on.has("gateway-error") || on.has("reset") || on.has("connect-failure");
    case "refused-stream":
      return on.has("5xx") || on.has("gateway-error") || on.has("reset") || on.has("refused-stream");
  }
}

function retryableResponse(policy: RetryPolicyConfig, status: number, grpcStatus: number | undefined): boolean {
  const on = policy.retryOn;
  if (status >= 500 && status <= 599 && on.has("5xx")) return true;
  if ((status === 502 || status === 503 || status === 504) && on.has("gateway-error")) return true;
  if (status === 409 && on.has("retriable-4xx")) return true;
  if (on.has("retriable-status-codes") && policy.retriableStatusCodes.has(status)) return true;
  if (grpcStatus === undefined) return false;
  switch (grpcStatus) {
    case GrpcStatus.CANCELLED:
      return on.has("cancelled");
    case GrpcStatus.DEADLINE_EXCEEDED:
      return on.has("deadline-exceeded");
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return on.has("resource-exhausted");
    case GrpcStatus.INTERNAL:
      return on.has("internal");
    case GrpcStatus.UNAVAILABLE:
      return on.has("unavailable");
    default:
      return false;
  }
}

/**
 * Parses a `grpc-status` header value (a decimal integer) without allocating; undefined when absent
 * or malformed, so a garbage value never triggers a retry.
 */
export function parseGrpcStatus(value: string | string[] | undefined): number | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > 2) return undefined;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Delay before retry number `attempt` (1 for the first retry), fully jittered: uniform in
 * [0, min((2^attempt - 1) * baseMs, maxMs)), whole milliseconds. Full jitter spreads the retries of
 * many clients that failed together, which a fixed or equal-jitter schedule would synchronise.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: Random): number {
  const n = attempt < 1 ? 1 : attempt;
  // 2^n overflows to Infinity for huge n; min() then caps it, no special case needed.
  const ceiling = Math.min((2 ** n - 1) * baseMs, maxMs);
  if (!(ceiling > 0)) return 0;
  return Math.floor(random.next() * ceiling);
}
