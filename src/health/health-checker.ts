/**
 * Active health checking of one cluster's hosts, as Envoy's HealthCheckerImplBase: a session per host
 * that checks on a timer (interval, unhealthy and edge intervals, no_traffic_interval while the cluster
 * has seen no traffic, plus jitter), sets FAILED_ACTIVE_HC after unhealthy_threshold network failures in
 * a row or at once on an explicit "not serving" answer, and clears it after healthy_threshold passes.
 *
 * A host is available until its first check says otherwise; that first result applies at once (Envoy
 * starts hosts as failed and lets the first success through, which comes to the same thing once the
 * first round is done, without making every host unavailable at startup). With
 * ignore_new_hosts_until_first_hc a host is flagged PENDING_ACTIVE_HC until that first result. A passing check also
 * un-ejects an outlier-ejected host (successful_active_health_check_uneject_host).
 */
import type { UpstreamTls } from "../upstream/upstream-tls.js";
import type { Clock, Random, TimerHandle } from "../common/clock.js";
import type { HealthCheckConfig } from "../config/model.js";
import type { OutlierDetector } from "../outlier/outlier-detector.js";
import { type Counter, type Gauge, StatsStore } from "../stats/stats-store.js";
import { HealthFlag, type Host } from "../upstream/host.js";
import type { CheckVerdict, ProtocolChecker } from "./checker.js";
import { GrpcHealthChecker } from "./grpc-health-checker.js";
import { HttpHealthChecker } from "./http-health-checker.js";

/** Health-check counters of one cluster (Envoy `cluster.<name>.health_check.*`). */
export interface HealthCheckStats {
  readonly attempt: Counter;
  readonly success: Counter;
  readonly failure: Counter;
  readonly networkFailure: Counter;
  /** Hosts not failing active health checks. */
  readonly healthy: Gauge;
}

/** Registers (or finds) `cluster.<name>.health_check.*`. */
export function healthCheckStats(store: StatsStore, cluster: string): HealthCheckStats {
  const p = `cluster.${cluster}.health_check.`;
  return {
    attempt: store.counter(`${p}attempt`),
    success: store.counter(`${p}success`),
    failure: store.counter(`${p}failure`),
    networkFailure: store.counter(`${p}network_failure`),
    healthy: store.gauge(`${p}healthy`),
  };
}

/** Per-host session. */
class Session {
  timer: TimerHandle | undefined;
  firstCheck = true;
  numHealthy = 0;
  numUnhealthy = 0;
  /** The last transition, for edge intervals. */
  justChanged = false;
  stopped = false;

  constructor(readonly host: Host) {}
}

export class HealthChecker {
  private readonly sessions = new Map<Host, Session>();
  private readonly checker: ProtocolChecker;
  readonly stats: HealthCheckStats;

  constructor(
    clusterName: string,
    readonly config: HealthCheckConfig,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly onHostChange: (host: Host) => void,
    private readonly outlier: OutlierDetector | undefined,
    /** Requests the cluster has seen so far: 0 means no traffic (no_traffic_interval applies). */
    private readonly trafficSeen: () => number,
    stats?: HealthCheckStats,
    checker?: ProtocolChecker,
    /** ignore_new_hosts_until_first_hc: new hosts take no traffic until their first check completes. */
    private readonly waitForFirstCheck = false,
    /** The cluster's upstream TLS, when it has one: checks use it too. */
    tls?: UpstreamTls,
  ) {
    this.stats = stats ?? healthCheckStats(new StatsStore(), clusterName);
    const c = config.checker;
    this.checker =
      checker ??
      (c.kind === "grpc"
        ? new GrpcHealthChecker(c.serviceName, c.authority ?? clusterName, c.initialMetadata, config.reuseConnection, config.intervalMs, tls)
        : new HttpHealthChecker(c.path, c.host ?? clusterName, c.expectedStatuses, c.requestHeadersToAdd, c.requestHeadersToRemove, config.reuseConnection, tls));
  }

  /** Follows membership: new hosts get a session (first check after initial_jitter), gone hosts stop. */
  setHosts(hosts: readonly Host[]): void {
    const keep = new Set(hosts);
    for (const [h, s] of this.sessions) {
      if (keep.has(h)) continue;
      this.stopSession(s);
      this.sessions.delete(h);
    }
    for (const h of hosts) {
      if (this.sessions.has(h)) continue;
      const s = new Session(h);
      this.sessions.set(h, s);
      if (this.waitForFirstCheck) h.healthFlags |= HealthFlag.PENDING_ACTIVE_HC;
      const delay = this.config.initialJitterMs > 0 ? Math.floor(this.random.next() * this.config.initialJitterMs) : 0;
      s.timer = this.clock.setTimeout(() => this.run(s), delay);
    }
    this.updateHealthyGauge();
  }

  /** Stops every session and closes connections. */
  stop(): void {
    for (const s of this.sessions.values()) this.stopSession(s);
    this.sessions.clear();
    this.checker.close();
  }

  private stopSession(s: Session): void {
    s.stopped = true;
    if (s.timer !== undefined) this.clock.clearTimeout(s.timer);
    s.timer = undefined;
    this.checker.release(s.host);
  }

  private run(s: Session): void {
    s.timer = undefined;
    if (s.stopped) return;
    this.stats.attempt.inc();
    void this.checker.check(s.host, this.config.timeoutMs).then((v) => {
      if (s.stopped) return;
      this.handle(s, v);
      s.timer = this.clock.setTimeout(() => this.run(s), this.nextIntervalMs(s));
    });
  }

  /** Applies one verdict to the host's flags (exported for tests through `handleForTest`). */
  private handle(s: Session, v: CheckVerdict): void {
    const h = s.host;
    const failed = (h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0;
    s.justChanged = false;
    if (v === "healthy") {
      this.stats.success.inc();
      s.numUnhealthy = 0;
      if (failed && (s.firstCheck || ++s.numHealthy >= this.config.healthyThreshold)) {
        h.healthFlags &= ~HealthFlag.FAILED_ACTIVE_HC;
        s.numHealthy = 0;
        s.justChanged = true;
        this.updateHealthyGauge();
        this.onHostChange(h);
      }
      if ((h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) === 0) this.outlier?.onActiveHealthCheckSuccess(h);
    } else {
      if (v === "network") this.stats.networkFailure.inc();
      else this.stats.failure.inc();
      s.numHealthy = 0;
      if (!failed && (v === "active" || s.firstCheck || ++s.numUnhealthy >= this.config.unhealthyThreshold)) {
        h.healthFlags |= HealthFlag.FAILED_ACTIVE_HC;
        s.numUnhealthy = 0;
        s.justChanged = true;
        this.updateHealthyGauge();
        this.onHostChange(h);
      }
    }
    s.firstCheck = false;
    if ((h.healthFlags & HealthFlag.PENDING_ACTIVE_HC) !== 0) {
      h.healthFlags &= ~HealthFlag.PENDING_ACTIVE_HC;
      this.onHostChange(h);
    }
  }

  private updateHealthyGauge(): void {
    let n = 0;
    for (const h of this.sessions.keys()) if ((h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) === 0) n++;
    this.stats.healthy.value = n;
  }

  /** Test hook: feeds a verdict to the session of `host` as if a check had returned it. */
  handleForTest(host: Host, v: CheckVerdict): void {
    const s = this.sessions.get(host);
    if (s !== undefined) this.handle(s, v);
  }

  /** Envoy's interval choice plus jitter. */
  nextIntervalMs(s: Session): number {
    const c = this.config;
    const unhealthy = (s.host.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0;
    let base: number;
    if (this.trafficSeen() === 0) base = unhealthy ? c.noTrafficIntervalMs : c.noTrafficHealthyIntervalMs;
    else if (unhealthy) base = s.justChanged ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    else base = s.justChanged ? c.healthyEdgeIntervalMs : c.intervalMs;
    let jitter = 0;
    if (c.intervalJitterPercent > 0) jitter += Math.floor(this.random.next() * ((base * c.intervalJitterPercent) / 100));
    if (c.intervalJitterMs > 0) jitter += Math.floor(this.random.next() * c.intervalJitterMs);
    return base + jitter;
  }

  /** The interval that would follow now for `host` (tests). */
  intervalFor(host: Host): number | undefined {
    const s = this.sessions.get(host);
    return s === undefined ? undefined : this.nextIntervalMs(s);
  }
}
