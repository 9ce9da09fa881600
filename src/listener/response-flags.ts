/**
 * Envoy's response flags: why a request ended the way it did, in stats and (later) the access log.
 * Only the flags Pilotfish can raise are listed.
 */
export const ResponseFlag = {
  /** No route matched. */
  NR: "NR",
  /** The route named a cluster that does not exist. */
  NC: "NC",
  /** No healthy upstream host. */
  UH: "UH",
  /** Upstream connection failure. */
  UF: "UF",
  /** Upstream request timeout. */
  UT: "UT",
  /** Upstream connection termination. */
  UC: "UC",
  /** Upstream remote reset. */
  UR: "UR",
  /** Upstream overflow (circuit breaker). */
  UO: "UO",
  /** Downstream connection termination (the client went away). */
  DC: "DC",
  /** Stream idle timeout. */
  SI: "SI",
  /** Upstream retry limit exceeded. */
  URX: "URX",
  /** Direct response. */
  DR: "DR",
  /** Upstream max stream duration reached. */
  UMSDR: "UMSDR",
  /** Denied by the RBAC filter (Envoy's RbacAccessDenied). */
  RBAC: "RBAC",
  /** Rate limited locally (Envoy's RateLimited, set by the local rate limit filter). */
  RL: "RL",
} as const;
export type ResponseFlag = (typeof ResponseFlag)[keyof typeof ResponseFlag];

/** gRPC status codes used by local replies. */
export const Grpc = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
