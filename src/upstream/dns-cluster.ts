/**
 * Host discovery of STRICT_DNS and LOGICAL_DNS clusters (Envoy's strict_dns_cluster and
 * logical_dns_cluster): every load_assignment endpoint is a resolve target with its own refresh timer.
 *
 * STRICT_DNS: each address of a target's latest answer is a host (the endpoint's port, weight and
 * health status); the cluster's host set is the union over targets, so Cluster.setHosts keeps the
 * hosts whose `ip:port` stays (pools, counters, outlier and health-check state) and drops the others.
 * An empty answer (NXDOMAIN / NODATA) empties the target; a failed query keeps the last answer.
 *
 * LOGICAL_DNS: one host per cluster, keyed `hostname:port`, created at the first non-empty answer.
 * Each later answer moves its address to the answer's first IP: new connections go there, existing
 * ones stay where they are (the pools read the host's address when they connect).
 *
 * Timing: after a success the next query is `dns_refresh_rate` later, or the answer's smallest TTL
 * with `respect_dns_ttl`; after a failure `dns_failure_refresh_rate`'s jittered exponential backoff,
 * else `dns_refresh_rate`.
 */
import type { Clock, Random, TimerHandle } from "../common/clock.js";
import type { ClusterConfig, DnsConfig, EndpointConfig } from "../config/model.js";
import type { Counter, StatsStore } from "../stats/stats-store.js";
import { Backoff } from "../xds/backoff.js";
import type { DnsAnswer, DnsResolver } from "./dns-resolver.js";
import { Host } from "./host.js";

/** Where discovery publishes the host set (the Cluster). */
export interface HostSetSink {
  /** Replaces the membership; hosts whose key stays keep their state. */
  setHosts(hosts: readonly Host[]): void;
}

/** Envoy's `cluster.<name>.update_*` counters for DNS resolutions. */
export interface DnsStats {
  /** Resolutions started. */
  updateAttempt: Counter;
  /** Resolutions answered (empty answers included). */
  updateSuccess: Counter;
  /** Resolutions that failed (the last answer stays). */
  updateFailure: Counter;
  /** Answers that left the host set as it was. */
  updateNoRebuild: Counter;
}

/** Registers (or finds) the DNS stats of cluster `name`. */
export function dnsStats(store: StatsStore, name: string): DnsStats {
  const p = `cluster.${name}.`;
  return {
    updateAttempt: store.counter(p + "update_attempt"),
    updateSuccess: store.counter(p + "update_success"),
    updateFailure: store.counter(p + "update_failure"),
    updateNoRebuild: store.counter(p + "update_no_rebuild"),
  };
}

/** `name:port` of a cluster's first endpoint (IPv6 in brackets), e.g. a DNS-named ADS server for gRPC. */
export function firstEndpointTarget(config: ClusterConfig): string | undefined {
  const a = config.endpoints[0]?.endpoints[0]?.address;
  if (a === undefined) return undefined;
  return a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** One endpoint hostname and what its latest answer produced. */
interface Target {
  readonly endpoint: EndpointConfig;
  /** Hosts of the latest answer (STRICT_DNS) or the logical host (LOGICAL_DNS, at most one). */
  hosts: readonly Host[];
  /** Sorted host keys of `hosts`, to skip rebuilding on an unchanged answer. */
  keys: string;
  timer: TimerHandle | undefined;
  /** Whether a first resolution finished (answered or failed). */
  done: boolean;
  /** Failure backoff; undefined when dns_failure_refresh_rate is unset (retry at the refresh rate). */
  readonly backoff: Backoff | undefined;
}

/** Drives a DNS cluster's host set from periodic resolutions. */
export class DnsDiscovery {
  private readonly dns: DnsConfig;
  private readonly logical: boolean;
  private readonly targets: Target[];
  private stopped = false;
  /** The last resolution error, per hostname (cleared by a success); shown for operators. */
  readonly lastErrors = new Map<string, string>();

  constructor(
    config: ClusterConfig,
    private readonly sink: HostSetSink,
    private readonly resolver: DnsResolver,
    private readonly stats: DnsStats,
    private readonly clock: Clock,
    random: Random,
  ) {
    if (config.dns === undefined) throw new Error(`cluster ${config.name} is not a DNS cluster`);
    this.dns = config.dns;
    this.logical = config.type === "LOGICAL_DNS";
    const fr = this.dns.failureRefresh;
    this.targets = config.endpoints.flatMap((l) =>
      l.endpoints.map((endpoint) => ({
        endpoint,
        hosts: [],
        keys: "",
        timer: undefined,
        done: false,
        backoff: fr === undefined ? undefined : new Backoff(fr.baseMs, fr.maxMs, random),
      })),
    );
  }

  /**
   * Whether every hostname was resolved once (answered or failed), as Envoy's cluster initialisation:
   * until then the sidecar's /ready says 503 rather than send traffic to a cluster with no hosts yet.
   */
  get initialized(): boolean {
    return this.targets.every((t) => t.done);
  }

  /** Starts resolving every target now. */
  start(): void {
    for (const t of this.targets) this.resolve(t);
  }

  /** Stops timers and abandons queries in flight; the hosts stay as they are. */
  stop(): void {
    this.stopped = true;
    for (const t of this.targets) if (t.timer !== undefined) this.clock.clearTimeout(t.timer);
    this.resolver.cancel();
  }

  private resolve(t: Target): void {
    t.timer = undefined;
    if (this.stopped) return;
    this.stats.updateAttempt.inc();
    this.resolver
      .resolve(t.endpoint.address.address, this.dns.lookupFamily)
      .then(
        (answer) => this.onAnswer(t, answer),
        (err: unknown) => this.onFailure(t, err),
      )
      // A bug applying an answer must neither crash the sidecar nor stop this name's refreshes.
      .catch((err: unknown) => {
        if (t.timer === undefined) this.onFailure(t, err);
      });
  }

  private onAnswer(t: Target, answer: DnsAnswer): void {
    if (this.stopped) return;
    this.stats.updateSuccess.inc();
    this.lastErrors.delete(t.endpoint.address.address);
    t.backoff?.reset();
    if (this.logical ? this.applyLogical(t, answer) : this.applyStrict(t, answer)) this.publish();
    else this.stats.updateNoRebuild.inc();
    const ttlMs = answer.ttlSeconds * 1000;
    this.schedule(t, this.dns.respectDnsTtl && ttlMs > 0 ? ttlMs : this.dns.refreshRateMs);
  }

  private onFailure(t: Target, err: unknown): void {
    if (this.stopped) return;
    this.stats.updateFailure.inc();
    const e = err as NodeJS.ErrnoException;
    this.lastErrors.set(t.endpoint.address.address, e.code ?? e.message);
    this.schedule(t, t.backoff?.next() ?? this.dns.refreshRateMs);
  }

  private schedule(t: Target, ms: number): void {
    t.done = true;
    t.timer = this.clock.setTimeout(() => this.resolve(t), ms);
  }

  /** STRICT_DNS: the answer's addresses become the target's hosts; true when the set changed. */
  private applyStrict(t: Target, answer: DnsAnswer): boolean {
    const { endpoint } = t;
    const port = endpoint.address.port;
    const hostname = endpoint.hostname ?? endpoint.address.address;
    const hosts = [...new Set(answer.addresses)].map((ip) => new Host({ address: ip, port }, endpoint.weight, hostname, endpoint.healthStatus));
    const keys = hosts.map((h) => h.key).sort().join(",");
    if (keys === t.keys) return false;
    t.hosts = hosts;
    t.keys = keys;
    return true;
  }

  /** LOGICAL_DNS: the first address moves the logical host (created on the first answer); true when it was created. */
  private applyLogical(t: Target, answer: DnsAnswer): boolean {
    const ip = answer.addresses[0];
    // Envoy keeps the logical host on an empty answer: there is nothing better to connect to.
    if (ip === undefined) return false;
    const { endpoint } = t;
    const current = t.hosts[0];
    if (current !== undefined) {
      if (current.address.address !== ip) current.address = { address: ip, port: endpoint.address.port };
      return false;
    }
    const name = endpoint.address.address;
    const key = name.includes(":") ? `[${name}]:${endpoint.address.port}` : `${name}:${endpoint.address.port}`;
    t.hosts = [new Host({ address: ip, port: endpoint.address.port }, endpoint.weight, endpoint.hostname ?? name, endpoint.healthStatus, key)];
    return true;
  }

  /** The union of every target's hosts, first occurrence of a key winning (two names may share an IP). */
  private publish(): void {
    const seen = new Set<string>();
    const hosts: Host[] = [];
    for (const t of this.targets) {
      for (const h of t.hosts) {
        if (seen.has(h.key)) continue;
        seen.add(h.key);
        hosts.push(h);
      }
    }
    this.sink.setHosts(hosts);
  }
}
