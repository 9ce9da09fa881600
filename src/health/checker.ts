/** One protocol's way to ask a host whether it is healthy (gRPC health v1, HTTP). */
import type { Host } from "../upstream/host.js";

/**
 * A check's verdict, as Envoy classifies it: an explicit "unhealthy" answer (`active`) fails the host
 * at once; a `network` failure (timeout, connect error, reset) only after unhealthy_threshold in a row.
 */
export type CheckVerdict = "healthy" | "active" | "network";

/** Runs checks against the hosts of one cluster. */
export interface ProtocolChecker {
  /** Checks `host` once; never rejects. */
  check(host: Host, timeoutMs: number): Promise<CheckVerdict>;
  /** Forgets a host (closes its connection, if kept). */
  release(host: Host): void;
  /** Closes every connection. */
  close(): void;
}
