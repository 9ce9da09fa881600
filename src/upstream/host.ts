/**
 * Host: one upstream endpoint of a cluster. The outlier detector and health checker never remove a
 * host; they set health flags, and the load balancer skips flagged hosts.
 */
import type { EndpointHealthStatus, SocketAddress } from "../config/model.js";
import type { UpstreamPool } from "./upstream-pool.js";

/**
 * Half-life of the failure penalty, ms: long enough that a host failing every request it gets keeps a
 * penalty of a few requests at modest rates, short enough that one bad second is forgotten in seconds.
 */
export const FAILURE_PENALTY_HALF_LIFE_MS = 1000;

/** Reasons a host is unavailable; zero means available. Names follow Envoy's /clusters output. */
export const HealthFlag = {
  FAILED_ACTIVE_HC: 1,
  FAILED_OUTLIER_CHECK: 2,
  FAILED_EDS_HEALTH: 4,
  DEGRADED_EDS_HEALTH: 8,
  /** Waiting for its first active health check (ignore_new_hosts_until_first_hc). */
  PENDING_ACTIVE_HC: 16,
} as const;

/** Where the router reports each attempt's result (the outlier detector's per-host monitor). */
export interface OutlierSink {
  /** An AttemptResult: HTTP status (gRPC mapped), negative local-origin failure, or 0 for nothing. */
  putResult(result: number): void;
}

/** Per-host counters, as Envoy's /clusters shows them. */
export interface HostStats {
  rqTotal: number;
  rqSuccess: number;
  rqError: number;
  rqTimeout: number;
  cxTotal: number;
  cxConnectFail: number;
}

/** An upstream endpoint with its live request count and connection pool. */
export class Host {
  /** `ip:port` (LOGICAL_DNS: `hostname:port`), unique within a cluster. */
  readonly key: string;
  /** Bitset of HealthFlag. */
  healthFlags = 0;
  /** Requests in flight on this host right now (every attempt counts, retries included). */
  activeRequests = 0;
  readonly stats: HostStats = { rqTotal: 0, rqSuccess: 0, rqError: 0, rqTimeout: 0, cxTotal: 0, cxConnectFail: 0 };
  /** Created by the cluster right after the host. */
  pool!: UpstreamPool;
  /** The outlier detector's monitor of this host; undefined when the cluster has no outlier detection. */
  outlier: OutlierSink | undefined = undefined;
  /** Monotonic ms when the host joined its cluster (slow start); set by the cluster. */
  addedAt: number | undefined = undefined;
  /**
   * EDS said DRAINING (e.g. a terminating Kubernetes pod): never picked, not even in panic mode, as
   * Envoy excludes such hosts; its in-flight requests finish on the open connections.
   */
  draining = false;

  constructor(
    /** Where new connections go; a LOGICAL_DNS host's changes with each DNS answer (its key does not). */
    public address: SocketAddress,
    readonly weight: number,
    readonly hostname: string | undefined,
    healthStatus: EndpointHealthStatus,
    /** Identity within the cluster; default `ip:port` (a LOGICAL_DNS host uses `hostname:port`). */
    key?: string,
  ) {
    this.key = key ?? (address.address.includes(":") ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`);
    this.draining = healthStatus === "DRAINING";
    if (healthStatus === "UNHEALTHY" || healthStatus === "DRAINING" || healthStatus === "TIMEOUT") {
      this.healthFlags |= HealthFlag.FAILED_EDS_HEALTH;
    } else if (healthStatus === "DEGRADED") {
      this.healthFlags |= HealthFlag.DEGRADED_EDS_HEALTH;
    }
  }

  /** Takes the EDS health of `fresh` (the same endpoint in a newer EDS update). */
  syncEdsHealth(fresh: Host): void {
    const eds = HealthFlag.FAILED_EDS_HEALTH | HealthFlag.DEGRADED_EDS_HEALTH;
    this.healthFlags = (this.healthFlags & ~eds) | (fresh.healthFlags & eds);
    this.draining = fresh.draining;
  }

  /** Failure penalty (request-equivalents) as of `penaltyAt`; decays with FAILURE_PENALTY_HALF_LIFE_MS. */
  private penalty = 0;
  private penaltyAt = 0;

  /**
   * Reports an attempt's result: to the outlier detector, if any (see outlier/result.ts), and to the
   * failure penalty least request adds to the active count, so that a host failing fast (429,
   * RESOURCE_EXHAUSTED, 5xx, resets: all end at once and keep its active count low) does not attract
   * more traffic. `now` is monotonic ms (performance.now() unless a test drives time).
   */
  recordResult(result: number, now?: number): void {
    if (result === 0) return;
    this.outlier?.putResult(result);
    if (result < 0 || result === 429 || result >= 500) this.penalize(now ?? performance.now());
  }

  /**
   * Time after which no host of the process has a failure penalty left (in the time base of the
   * latest penalize() calls): lets least request skip its scan for penalized hosts, which would make
   * every pick O(hosts), while no penalty can be in effect.
   */
  static penaltiesUntil = Number.NEGATIVE_INFINITY;

  /** Adds one failure to the decaying penalty. */
  penalize(now: number): void {
    this.penalty = this.failurePenalty(now) + 1;
    this.penaltyAt = now;
    // failurePenalty() reads 0 once penalty * 2^(-dt / half-life) < 0.01; 1 ms of margin.
    const until = now + FAILURE_PENALTY_HALF_LIFE_MS * Math.log2(this.penalty / 0.01) + 1;
    if (until > Host.penaltiesUntil) Host.penaltiesUntil = until;
  }

  /** The failure penalty at `now`: each failure counts as one active request, halving every half-life. */
  failurePenalty(now: number): number {
    if (this.penalty === 0) return 0;
    const p = this.penalty * Math.pow(2, -(now - this.penaltyAt) / FAILURE_PENALTY_HALF_LIFE_MS);
    if (p < 0.01) {
      this.penalty = 0;
      return 0;
    }
    return p;
  }

  /** Whether a failure penalty may still be in effect (cleared lazily once it has decayed). */
  get penalized(): boolean {
    return this.penalty !== 0;
  }

  /** What least request compares: active requests plus the failure penalty. */
  load(now: number): number {
    return this.penalty === 0 ? this.activeRequests : this.activeRequests + this.failurePenalty(now);
  }

  /** Whether the load balancer may pick this host outside panic mode. */
  get available(): boolean {
    return this.healthFlags === 0;
  }

  /** Envoy's health flag text: `healthy` or `/failed_active_hc/failed_outlier_check...`. */
  healthText(): string {
    if (this.healthFlags === 0) return "healthy";
    let s = "";
    if (this.healthFlags & HealthFlag.FAILED_ACTIVE_HC) s += "/failed_active_hc";
    if (this.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) s += "/failed_outlier_check";
    if (this.healthFlags & HealthFlag.FAILED_EDS_HEALTH) s += "/failed_eds_health";
    if (this.healthFlags & HealthFlag.DEGRADED_EDS_HEALTH) s += "/degraded_eds_health";
    if (this.healthFlags & HealthFlag.PENDING_ACTIVE_HC) s += "/pending_active_hc";
    return s;
  }
}
