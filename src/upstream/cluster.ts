/**
 * Cluster: immutable config + its hosts, their pools and the current picker.
 *
 * Panic threshold as Envoy: when fewer than `healthy_panic_threshold` percent of hosts are available,
 * balance across all hosts rather than overload the few that are left; 0 disables panic mode.
 */
import { systemClock, type Clock, type Random } from "../common/clock.js";
import type { ClusterConfig, DnsConfig, LocalityEndpointsConfig } from "../config/model.js";
import { createPicker, type Picker } from "../lb/load-balancer.js";
import { HealthChecker, healthCheckStats } from "../health/health-checker.js";
import { OutlierDetector } from "../outlier/outlier-detector.js";
import { outlierStats } from "../outlier/outlier-stats.js";
import type { StatsStore } from "../stats/stats-store.js";
import { clusterStats, type ClusterStats } from "./cluster-stats.js";
import { DnsDiscovery, dnsStats } from "./dns-cluster.js";
import { createDnsResolver, type DnsResolver } from "./dns-resolver.js";
import { Host } from "./host.js";
import { Http1Pool } from "./http1-pool.js";
import { Http2Pool } from "./http2-pool.js";
import { RawH2Pool } from "./raw-h2-pool.js";
import { upstreamH2Codec } from "./upstream-codec.js";
import { tlsStats } from "../security/tls-stats.js";
import { UpstreamTls } from "./upstream-tls.js";

type DnsConfigServers = DnsConfig["resolvers"];

/** One upstream cluster. */
export class Cluster {
  readonly name: string;
  readonly stats: ClusterStats;
  private hostList: readonly Host[] = [];
  private picker: Picker;
  /** Requests in flight in this cluster (the max_requests circuit breaker). */
  activeRequests = 0;
  /** Retries in flight (the max_retries circuit breaker). */
  activeRetries = 0;
  /** The outlier detector, when the cluster has `outlier_detection`. */
  readonly outlier: OutlierDetector | undefined;
  /** The active health checker, when the cluster has `health_checks`. */
  readonly healthChecker: HealthChecker | undefined;
  /** Whether the panic threshold put the picker over all hosts at the last rebuild. */
  panic = false;
  /** Host discovery of a STRICT_DNS / LOGICAL_DNS cluster; undefined for STATIC and EDS. */
  readonly dns: DnsDiscovery | undefined;
  /** TLS origination, when the cluster has an UpstreamTlsContext. */
  readonly tls: UpstreamTls | undefined;

  constructor(
    readonly config: ClusterConfig,
    store: StatsStore,
    private readonly random: Random,
    private readonly clock: Clock = systemClock,
    /** Builds a DNS cluster's resolver from its configured servers (tests pass a fake). */
    dnsResolver: (servers: DnsConfigServers) => DnsResolver = createDnsResolver,
  ) {
    this.name = config.name;
    this.stats = clusterStats(store, config.name);
    this.picker = createPicker(config.lbPolicy, [], config.leastRequest, random);
    if (config.tls !== undefined) this.tls = new UpstreamTls(config.tls, tlsStats(store, `cluster.${config.name}.`));
    const onHostChange = (): void => this.rebuildPicker();
    if (config.outlierDetection !== undefined) {
      this.outlier = new OutlierDetector(config.outlierDetection, outlierStats(store, config.name), clock, random, onHostChange);
    }
    const hc = config.healthChecks?.[0];
    if (hc !== undefined) {
      this.healthChecker = new HealthChecker(
        config.name,
        hc,
        clock,
        random,
        onHostChange,
        this.outlier,
        () => this.stats.rqTotal.value,
        healthCheckStats(store, config.name),
        undefined,
        config.ignoreNewHostsUntilFirstHc === true,
        this.tls,
      );
    }
    if (config.dns !== undefined) {
      // Hosts arrive with the first answers; the endpoints name hosts to resolve, not addresses.
      this.dns = new DnsDiscovery(config, this, dnsResolver(config.dns.resolvers), dnsStats(store, config.name), clock, random);
      this.dns.start();
    } else {
      this.updateEndpoints(config.endpoints);
    }
    this.outlier?.start();
  }

  /** Replaces the endpoints (an EDS update); hosts that stay keep their pools and counters. */
  updateEndpoints(localities: readonly LocalityEndpointsConfig[]): void {
    this.setHosts(localities.flatMap((le) => le.endpoints.map((e) => new Host(e.address, e.weight, e.hostname, e.healthStatus))));
  }

  /** All hosts, available or not. */
  get hosts(): readonly Host[] {
    return this.hostList;
  }

  /** Replaces membership; hosts keep identity (and pools) when their address stays. */
  setHosts(next: readonly Host[]): void {
    const old = new Map(this.hostList.map((h) => [h.key, h]));
    const merged = next.map((h) => {
      const kept = old.get(h.key);
      if (kept !== undefined) {
        old.delete(h.key);
        kept.syncEdsHealth(h);
        return kept;
      }
      h.pool =
        this.config.protocol === "http1"
          ? new Http1Pool(h, this.config, this.stats, this.tls)
          : upstreamH2Codec() === "raw"
            ? new RawH2Pool(h, this.config, this.stats, this.tls)
            : new Http2Pool(h, this.config, this.stats, this.tls);
      return h;
    });
    for (const gone of old.values()) gone.pool.close();
    // Slow start applies to hosts added later, not to the cluster's first hosts (they all start together).
    const now = this.hostList.length === 0 ? Number.NEGATIVE_INFINITY : this.clock.now();
    for (const h of merged) h.addedAt ??= now;
    this.hostList = merged;
    this.outlier?.setHosts(merged);
    this.healthChecker?.setHosts(merged);
    this.rebuildPicker();
  }

  /** Rebuilds the picker after membership or health flags changed. */
  rebuildPicker(): void {
    const available = this.hostList.filter((h) => h.available);
    this.stats.membershipTotal.value = this.hostList.length;
    this.stats.membershipHealthy.value = available.length;
    const threshold = this.config.healthyPanicThreshold;
    // Draining hosts are excluded (Envoy's excluded hosts): out of the panic maths and the panic set.
    const eligible = this.hostList.some((h) => h.draining) ? this.hostList.filter((h) => !h.draining) : this.hostList;
    const panic = threshold > 0 && eligible.length > 0 && (available.length * 100) / eligible.length < threshold;
    this.panic = panic;
    this.picker = createPicker(this.config.lbPolicy, panic ? eligible : available, this.config.leastRequest, this.random, this.clock);
  }

  /** Picks a host for an attempt, avoiding `tried` where possible. */
  pick(tried: readonly Host[] | undefined): Host | undefined {
    return this.picker.pick(tried);
  }

  /** Gracefully closes every host's connections and stops detection and checks. */
  close(): void {
    this.dns?.stop();
    this.outlier?.stop();
    this.healthChecker?.stop();
    for (const h of this.hostList) h.pool.close();
    this.tls?.release();
  }

  /** Destroys every host's connections and stops detection and checks. */
  destroy(): void {
    this.dns?.stop();
    this.outlier?.stop();
    this.healthChecker?.stop();
    for (const h of this.hostList) h.pool.destroy();
    this.tls?.release();
  }
}
