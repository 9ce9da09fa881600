/**
 * Outlier detection as Envoy's outlier_detection_impl.cc: a monitor per host fed by the router with
 * each attempt's result, consecutive detectors checked inline, success-rate and failure-percentage
 * detectors on the interval sweep, ejection by health flag (never by removing the host), ejection
 * time min(base × b, max) + jitter where b grows on each ejection and decays while the host behaves,
 * and max_ejection_percent counted after the ejection (always_eject_one_host lets the first through).
 *
 * Everything runs on the one JS thread, so a consecutive detection ejects at once (Envoy posts it to
 * the main thread; the outcome is the same). Clock and Random are injected so tests drive time.
 */
import type { Clock, Random, TimerHandle } from "../common/clock.js";
import type { OutlierDetectionConfig } from "../config/model.js";
import { HealthFlag, type Host, type OutlierSink } from "../upstream/host.js";
import type { EjectionType, OutlierStats } from "./outlier-stats.js";
import { AttemptResult } from "./result.js";

/** Success and total counts of one interval. */
class Bucket {
  success = 0;
  total = 0;
}

/** Success-rate accumulator: the router writes `current`; the sweep reads what the last interval saw. */
class SuccessRateMonitor {
  private current = new Bucket();
  private last = new Bucket();
  /** The last valid success rate (percent), or -1 (what /clusters shows). */
  rate = -1;

  add(success: boolean): void {
    this.current.total++;
    if (success) this.current.success++;
  }

  /** Ends the interval: what it saw becomes readable and a fresh bucket starts. */
  swap(): void {
    const b = this.last;
    this.last = this.current;
    this.current = b;
    b.success = 0;
    b.total = 0;
  }

  /** Success rate (percent) and volume of the last interval; undefined when it saw nothing. */
  lastInterval(): { rate: number; volume: number } | undefined {
    const b = this.last;
    return b.total === 0 ? undefined : { rate: (b.success * 100) / b.total, volume: b.total };
  }
}

/** Per-host state: counters, success-rate buckets and ejection bookkeeping. */
export class HostMonitor implements OutlierSink {
  consecutive5xx = 0;
  consecutiveGatewayFailure = 0;
  consecutiveLocalOriginFailure = 0;
  readonly external = new SuccessRateMonitor();
  readonly localOrigin = new SuccessRateMonitor();
  /** Backoff multiplier b of the ejection time; decays by one per interval while not ejected. */
  ejectTimeBackoff = 0;
  /** Ejections enforced on this host over its life (shown by /clusters). */
  numEjections = 0;
  lastEjectionAt: number | undefined;
  lastUnejectionAt: number | undefined;
  jitterMs = 0;

  constructor(
    readonly host: Host,
    private readonly detector: OutlierDetector,
  ) {}

  /** Records one attempt's result (see AttemptResult). */
  putResult(r: AttemptResult): void {
    if (r === AttemptResult.NONE) return;
    const split = this.detector.config.splitExternalLocalOriginErrors;
    if (r > 0) {
      // A response arrived, so the connection worked: a local-origin success in split mode.
      if (split) this.localOriginNoFailure();
      this.putHttpStatus(r);
      return;
    }
    if (split) {
      this.localOriginFailure();
      return;
    }
    // Not split: local-origin failures count as the HTTP codes Envoy maps them to.
    this.putHttpStatus(r === AttemptResult.LOCAL_TIMEOUT ? 504 : 503);
  }

  private putHttpStatus(status: number): void {
    const c = this.detector.config;
    if (status >= 500 && status < 600) {
      this.external.add(false);
      if (status === 502 || status === 503 || status === 504) {
        if (++this.consecutiveGatewayFailure === c.consecutiveGatewayFailure) {
          this.consecutiveGatewayFailure = 0;
          this.detector.onConsecutiveError(this, "consecutive_gateway_failure");
        }
      } else {
        this.consecutiveGatewayFailure = 0;
      }
      if (++this.consecutive5xx === c.consecutive5xx) {
        this.consecutive5xx = 0;
        this.detector.onConsecutiveError(this, "consecutive_5xx");
      }
    } else {
      this.external.add(true);
      this.consecutive5xx = 0;
      this.consecutiveGatewayFailure = 0;
    }
  }

  private localOriginFailure(): void {
    this.localOrigin.add(false);
    if (++this.consecutiveLocalOriginFailure === this.detector.config.consecutiveLocalOriginFailure) {
      this.consecutiveLocalOriginFailure = 0;
      this.detector.onConsecutiveError(this, "consecutive_local_origin_failure");
    }
  }

  private localOriginNoFailure(): void {
    this.localOrigin.add(true);
    this.consecutiveLocalOriginFailure = 0;
  }

  resetConsecutive(): void {
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    this.consecutiveLocalOriginFailure = 0;
  }

  get ejected(): boolean {
    return (this.host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0;
  }
}

/** The enforcing_* percentage of each ejection type. */
function enforcing(c: OutlierDetectionConfig, t: EjectionType): number {
  switch (t) {
    case "consecutive_5xx":
      return c.enforcingConsecutive5xx;
    case "consecutive_gateway_failure":
      return c.enforcingConsecutiveGatewayFailure;
    case "consecutive_local_origin_failure":
      return c.enforcingConsecutiveLocalOriginFailure;
    case "success_rate":
      return c.enforcingSuccessRate;
    case "local_origin_success_rate":
      return c.enforcingLocalOriginSuccessRate;
    case "failure_percentage":
      return c.enforcingFailurePercentage;
    case "failure_percentage_local_origin":
      return c.enforcingFailurePercentageLocalOrigin;
  }
}

/** The success-rate threshold of the last sweep, per origin (-1 when not computed). */
export interface SuccessRateNumbers {
  mean: number;
  stdev: number;
  threshold: number;
}

/** Observes one cluster's hosts and ejects outliers. */
export class OutlierDetector {
  private readonly monitors = new Map<Host, HostMonitor>();
  private timer: TimerHandle | undefined;
  private stopped = false;
  private ejectedCount = 0;
  /** Last sweep's success-rate numbers (external origin, then local origin). */
  readonly srNumbers: { external: SuccessRateNumbers; local: SuccessRateNumbers } = {
    external: { mean: -1, stdev: -1, threshold: -1 },
    local: { mean: -1, stdev: -1, threshold: -1 },
  };

  constructor(
    readonly config: OutlierDetectionConfig,
    readonly stats: OutlierStats,
    private readonly clock: Clock,
    private readonly random: Random,
    /** Called after a host's outlier flag changed (the cluster rebuilds its picker). */
    private readonly onHostChange: (host: Host) => void,
  ) {
    stats.ejectionsActive.value = 0;
  }

  /** Starts the interval sweep. */
  start(): void {
    if (this.timer === undefined) this.arm();
  }

  /** Stops the sweep (the cluster is going away). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(this.onInterval, this.config.intervalMs);
  }

  private readonly onInterval = (): void => {
    this.sweep();
    this.arm();
  };

  /** Follows membership: new hosts get a monitor; hosts that left take their ejection with them. */
  setHosts(hosts: readonly Host[]): void {
    const keep = new Set(hosts);
    for (const [h, m] of this.monitors) {
      if (keep.has(h)) continue;
      if (m.ejected) this.ejectedCount--;
      h.outlier = undefined;
      this.monitors.delete(h);
    }
    for (const h of hosts) {
      if (this.monitors.has(h)) continue;
      const m = new HostMonitor(h, this);
      this.monitors.set(h, m);
      h.outlier = m;
    }
    this.stats.ejectionsActive.value = this.ejectedCount;
  }

  /** The monitor of `host`, if it belongs to this cluster. */
  monitor(host: Host): HostMonitor | undefined {
    return this.monitors.get(host);
  }

  /** Hosts ejected right now. */
  get ejected(): number {
    return this.ejectedCount;
  }

  /** A consecutive detector fired for `m`'s host. */
  onConsecutiveError(m: HostMonitor, type: EjectionType): void {
    // A replaced cluster's detector may still hear from requests in flight: it no longer acts.
    if (this.stopped || this.monitors.get(m.host) !== m || m.ejected) return;
    this.stats.detected[type].inc();
    this.eject(m, type);
  }

  /** A passing active health check: un-ejects (Envoy successful_active_health_check_uneject_host). */
  onActiveHealthCheckSuccess(host: Host): void {
    const m = this.monitors.get(host);
    if (m === undefined || !this.config.successfulActiveHealthCheckUnejectHost) return;
    if (m.ejected) this.uneject(m, this.clock.now());
    else m.resetConsecutive();
  }

  private eject(m: HostMonitor, type: EjectionType): void {
    const c = this.config;
    const total = this.monitors.size;
    // Envoy ≥ 1.31: the ejection counts itself; always_eject_one_host lets the first one through.
    const shouldEject =
      (100 * (this.ejectedCount + 1)) / total <= c.maxEjectionPercent || (c.alwaysEjectOneHost && this.ejectedCount === 0);
    if (!shouldEject) {
      this.stats.ejectionsOverflow.inc();
      return;
    }
    this.stats.ejectionsTotal.inc();
    if (!(this.random.next() * 100 < enforcing(c, type))) return;
    this.ejectedCount++;
    this.stats.ejectionsActive.value = this.ejectedCount;
    this.stats.ejectionsEnforcedTotal.inc();
    this.stats.enforced[type].inc();
    m.host.healthFlags |= HealthFlag.FAILED_OUTLIER_CHECK;
    m.numEjections++;
    m.lastEjectionAt = this.clock.now();
    // Jitter spreads un-ejections so that hosts ejected together do not all return together.
    m.jitterMs = Math.floor(this.random.next() * (c.maxEjectionTimeJitterMs + 1));
    if (m.ejectTimeBackoff * c.baseEjectionTimeMs < c.maxEjectionTimeMs + c.baseEjectionTimeMs) m.ejectTimeBackoff++;
    this.onHostChange(m.host);
  }

  private uneject(m: HostMonitor, now: number): void {
    this.ejectedCount--;
    this.stats.ejectionsActive.value = this.ejectedCount;
    m.host.healthFlags &= ~HealthFlag.FAILED_OUTLIER_CHECK;
    // Fresh counters: a host one failure short of the threshold would otherwise be re-ejected at once.
    m.resetConsecutive();
    m.lastUnejectionAt = now;
    this.onHostChange(m.host);
  }

  /** How long `m`'s current ejection lasts, ms. */
  ejectionTimeMs(m: HostMonitor): number {
    const c = this.config;
    return Math.min(c.baseEjectionTimeMs * m.ejectTimeBackoff, c.maxEjectionTimeMs) + m.jitterMs;
  }

  /** One interval: un-eject or decay, swap success-rate buckets, run the success-rate detectors. */
  sweep(): void {
    const now = this.clock.now();
    for (const m of this.monitors.values()) {
      this.checkForUneject(m, now);
      m.external.swap();
      m.localOrigin.swap();
      m.external.rate = -1;
      m.localOrigin.rate = -1;
    }
    this.successRateEjections("external");
    if (this.config.splitExternalLocalOriginErrors) this.successRateEjections("local");
  }

  private checkForUneject(m: HostMonitor, now: number): void {
    if (!m.ejected) {
      // Decay: a host that has stayed in for a full interval since its last return earns back a step.
      if (m.lastUnejectionAt !== undefined && now - m.lastUnejectionAt >= this.config.intervalMs && m.ejectTimeBackoff > 0) {
        m.ejectTimeBackoff--;
      }
      return;
    }
    if (m.lastEjectionAt !== undefined && now - m.lastEjectionAt >= this.ejectionTimeMs(m)) this.uneject(m, now);
  }

  private successRateEjections(origin: "external" | "local"): void {
    const c = this.config;
    const nums = origin === "external" ? this.srNumbers.external : this.srNumbers.local;
    nums.mean = nums.stdev = nums.threshold = -1;
    if (this.monitors.size < c.successRateMinimumHosts && this.monitors.size < c.failurePercentageMinimumHosts) return;
    const srHosts: Array<{ m: HostMonitor; rate: number }> = [];
    const fpHosts: Array<{ m: HostMonitor; rate: number }> = [];
    let sum = 0;
    for (const m of this.monitors.values()) {
      if (m.ejected) continue;
      const sr = origin === "external" ? m.external : m.localOrigin;
      const last = sr.lastInterval();
      if (last === undefined) continue;
      if (last.volume >= Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume)) sr.rate = last.rate;
      if (last.volume >= c.successRateRequestVolume) {
        srHosts.push({ m, rate: last.rate });
        sum += last.rate;
      }
      if (last.volume >= c.failurePercentageRequestVolume) fpHosts.push({ m, rate: last.rate });
    }
    if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
      const mean = sum / srHosts.length;
      let variance = 0;
      for (const h of srHosts) variance += (h.rate - mean) ** 2;
      const stdev = Math.sqrt(variance / srHosts.length);
      const threshold = mean - (c.successRateStdevFactor / 1000) * stdev;
      nums.mean = mean;
      nums.stdev = stdev;
      nums.threshold = threshold;
      const type: EjectionType = origin === "external" ? "success_rate" : "local_origin_success_rate";
      for (const h of srHosts) {
        if (h.rate < threshold && !h.m.ejected) {
          this.stats.detected[type].inc();
          this.eject(h.m, type);
        }
      }
    }
    if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
      const type: EjectionType = origin === "external" ? "failure_percentage" : "failure_percentage_local_origin";
      for (const h of fpHosts) {
        if (100 - h.rate >= c.failurePercentageThreshold && !h.m.ejected) {
          this.stats.detected[type].inc();
          this.eject(h.m, type);
        }
      }
    }
  }
}
