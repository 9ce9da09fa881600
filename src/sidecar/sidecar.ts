/**
 * The sidecar process: builds clusters and listeners from a Bootstrap, takes dynamic ones over ADS,
 * serves admin, drains on request. Owns lifecycle only; requests are the connection managers' business.
 */
import type http from "node:http";
import { systemRandom, type Random } from "../common/clock.js";
import type { Logger } from "../common/logger.js";
import type { Bootstrap, ListenerConfig, RouteConfig } from "../config/model.js";
import { Listener } from "../listener/listener.js";
import { RouteTable } from "../router/route-table.js";
import { StatsStore, type Counter } from "../stats/stats-store.js";
import { installTelemetry, Telemetry } from "../telemetry/telemetry.js";
import { ClusterManager } from "../upstream/cluster-manager.js";
import { firstEndpointTarget } from "../upstream/dns-cluster.js";
import type { Cluster } from "../upstream/cluster.js";
import { adminPort, startAdminServer, type AdminTarget } from "../admin/admin-server.js";
import { adsClientModule } from "../common/lazy-require.js";
import type { AdsClient } from "../xds/ads-client.js";
import { TypeUrl } from "../xds/type-urls.js";
import { DynamicConfig, type ListenerHost } from "./dynamic-config.js";
import { configDump } from "./config-dump.js";
import { shrinkHeap } from "./heap-shrinker.js";
import { startOptimizingCompilers } from "./optimizing-compilers.js";
import { addMemoryGauges } from "../stats/memory-stats.js";

/** Where a started sidecar listens. */
export interface SidecarPorts {
  /** Admin port, null without admin. */
  readonly admin: number | null;
  /** Static listener name → bound port. */
  readonly listeners: Record<string, number>;
}

/** How the process runs the sidecar. */
export interface SidecarOptions {
  /** Bind listeners with SO_REUSEPORT (worker processes sharing ports). */
  readonly reusePort?: boolean;
}

/** A running sidecar. */
export class Sidecar implements ListenerHost {
  readonly stats = new StatsStore();
  readonly clusters: ClusterManager;
  /** Traces and access logs. */
  readonly telemetry: Telemetry;
  readonly listeners = new Map<string, Listener>();
  /** Bound ports of running listeners. */
  readonly ports = new Map<string, number>();
  ads: AdsClient | undefined;
  private dynamic: DynamicConfig | undefined;
  private admin: http.Server | undefined;
  private draining = false;
  private healthFailed = false;
  private drainPromise: Promise<void> | undefined;
  private readonly pendingBinds = new Set<Promise<unknown>>();
  /** Envoy's listener_manager.listener_added / _modified / _removed / _in_place_updated. */
  private readonly listenerCounters: { readonly added: Counter; readonly modified: Counter; readonly removed: Counter; readonly inPlace: Counter };

  constructor(
    readonly bootstrap: Bootstrap,
    private readonly log: Logger,
    private readonly random: Random = systemRandom,
    private readonly options: SidecarOptions = {},
  ) {
    addMemoryGauges(this.stats);
    this.clusters = new ClusterManager(this.stats, random);
    // Before any listener: connection managers take their tracer and access log from it.
    this.telemetry = new Telemetry(bootstrap.node, this.stats);
    installTelemetry(this.telemetry);
    for (const c of bootstrap.clusters) this.clusters.addOrUpdate(c);
    for (const l of bootstrap.listeners) this.listeners.set(l.name, this.newListener(l));
    const c = (n: string): Counter => this.stats.counter(`listener_manager.${n}`);
    this.listenerCounters = {
      added: c("listener_added"),
      modified: c("listener_modified"),
      removed: c("listener_removed"),
      inPlace: c("listener_in_place_updated"),
    };
    this.listenerCounters.added.value += bootstrap.listeners.length;
  }

  /** Binds static listeners and admin, then opens the ADS stream if the bootstrap has one. */
  async start(): Promise<SidecarPorts> {
    const ports: Record<string, number> = {};
    for (const [name, l] of this.listeners) {
      ports[name] = await l.listen();
      this.ports.set(name, ports[name]);
    }
    let admin: number | null = null;
    if (this.bootstrap.admin !== undefined) {
      this.admin = await startAdminServer(this.bootstrap.admin.address, this.adminTarget());
      admin = adminPort(this.admin);
    }
    this.startAds();
    // The startup garbage (decoded config, compiled modules) back to the system before any request.
    shrinkHeap(this.stats.counter("server.heap_shrinks"));
    startOptimizingCompilers(this.stats.counter("server.optimizing_compilers_started"));
    return { admin, listeners: ports };
  }

  /** What the admin server (this process's, or a worker primary's over IPC) reads and acts on. */
  adminTarget(): AdminTarget {
    return {
      stats: this.stats,
      clusters: this.clusters,
      isReady: () =>
        !this.draining && !this.healthFailed && (this.dynamic?.ready ?? true) && this.pendingBinds.size === 0 && this.dnsClustersInitialized(),
      configDump: () => configDump(this),
      setHealthFailed: (f) => {
        this.healthFailed = f;
      },
      drainListeners: () => {
        void this.drainListeners(this.maxDrainTimeout());
      },
    };
  }

  private newListener(config: ListenerConfig): Listener {
    const l = new Listener(config, this.clusters, this.random, this.stats);
    l.reusePort = this.options.reusePort === true;
    return l;
  }

  private startAds(): void {
    const dyn = this.bootstrap.dynamicResources;
    if (dyn === undefined) return;
    const adsClusterName = dyn.adsClusterName;
    if (this.clusters.get(adsClusterName) === undefined) {
      this.log.error({ cluster: adsClusterName }, "ADS cluster does not exist; running on static config only");
      return;
    }
    const wildcard: TypeUrl[] = [];
    if (dyn.cds) wildcard.push(TypeUrl.CLUSTER);
    if (dyn.lds) wildcard.push(TypeUrl.LISTENER);
    const config = new DynamicConfig(this.clusters, this, new Set(this.bootstrap.clusters.map((c) => c.name)), this.log, wildcard);
    this.dynamic = config;
    this.ads = new (adsClientModule().AdsClient)(
      {
        // Every endpoint of the xDS cluster (replicas), read at each reconnect: the client fails over in turn.
        // A DNS cluster has no hosts before its first answer: then give gRPC the name, it resolves it itself.
        targets: () => adsTargets(this.clusters.get(adsClusterName)),
        node: this.bootstrap.node,
        log: this.log,
        stats: this.stats,
        random: this.random,
        delta: dyn.delta,
        adminAddress: this.boundAdminAddress(),
      },
      config,
      wildcard,
    );
    config.attach(this.ads);
    // After the client exists: loading it (grpc-js, first use) must not eat into the timeout.
    config.startInitTimer(dyn.initialFetchTimeoutMs ?? 15_000);
    this.ads.start();
  }

  /** Whether every DNS cluster finished its first resolutions (Envoy's cluster warming). */
  private dnsClustersInitialized(): boolean {
    for (const c of this.clusters.all()) if (c.dns !== undefined && !c.dns.initialized) return false;
    return true;
  }

  /** `host:port` of the bound admin server (IPv6 in brackets), or undefined without one. */
  private boundAdminAddress(): string | undefined {
    if (this.admin === undefined || this.bootstrap.admin === undefined) return undefined;
    const host = this.bootstrap.admin.address.address;
    return `${host.includes(":") ? `[${host}]` : host}:${adminPort(this.admin)}`;
  }

  // ---------------------------------------------------------------------------------- ListenerHost

  upsertListener(config: ListenerConfig, routes: RouteConfig | undefined): void {
    const existing = this.listeners.get(config.name);
    const sameAddress =
      existing !== undefined &&
      existing.config.address.address === config.address.address &&
      existing.config.address.port === config.address.port &&
      (existing.config.tls === undefined) === (config.tls === undefined);
    if (existing !== undefined) this.listenerCounters.modified.inc();
    else this.listenerCounters.added.inc();
    if (existing !== undefined && sameAddress) {
      this.listenerCounters.inPlace.inc();
      existing.update(config);
      if (routes !== undefined) existing.cm.routeTable = new RouteTable(routes);
      this.log.info({ listener: config.name }, "listener updated");
      return;
    }
    if (existing !== undefined) this.dropListener(config.name);
    if (this.draining) return;
    const l = this.newListener(config);
    if (routes !== undefined) l.cm.routeTable = new RouteTable(routes);
    this.listeners.set(config.name, l);
    const bind = l.listen().then(
      (port) => {
        this.ports.set(config.name, port);
        this.log.info({ listener: config.name, port }, "listener added");
      },
      (err: Error) => {
        this.log.error({ listener: config.name, err: err.message }, "listener failed to bind");
        if (this.listeners.get(config.name) === l) this.listeners.delete(config.name);
      },
    );
    this.pendingBinds.add(bind);
    void bind.finally(() => this.pendingBinds.delete(bind));
  }

  setListenerRoutes(name: string, routes: RouteConfig): void {
    const l = this.listeners.get(name);
    if (l !== undefined) l.cm.routeTable = new RouteTable(routes);
  }

  removeListener(name: string): void {
    if (this.dropListener(name)) this.listenerCounters.removed.inc();
  }

  /** Stops and drains a listener; false if there was none. */
  private dropListener(name: string): boolean {
    const l = this.listeners.get(name);
    if (l === undefined) return false;
    this.listeners.delete(name);
    this.ports.delete(name);
    this.log.info({ listener: name }, "listener removed; draining");
    void l.drain(l.config.hcm.drainTimeoutMs);
    return true;
  }

  runs(name: string, config: ListenerConfig): boolean {
    return this.listeners.get(name)?.config === config;
  }

  // ---------------------------------------------------------------------------------- lifecycle

  /**
   * Graceful shutdown: /ready fails, listeners stop accepting and send GOAWAY, streams in flight get
   * up to the largest HCM drain_timeout to finish, then everything closes.
   */
  async shutdown(): Promise<void> {
    this.ads?.close();
    await this.drainListeners(this.maxDrainTimeout());
    this.clusters.destroy();
    await this.telemetry.shutdown();
    await new Promise<void>((resolve) => (this.admin ? this.admin.close(() => resolve()) : resolve()));
    this.admin?.closeAllConnections();
  }

  private drainListeners(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.drainPromise ??= (async () => {
      await Promise.allSettled([...this.pendingBinds]);
      this.log.info({ timeout_ms: timeoutMs }, "draining listeners");
      await Promise.all([...this.listeners.values()].map((l) => l.drain(timeoutMs)));
    })();
    return this.drainPromise;
  }

  private maxDrainTimeout(): number {
    return Math.max(0, ...[...this.listeners.values()].map((l) => l.config.hcm.drainTimeoutMs));
  }
}

/** The xDS cluster's endpoints as gRPC targets; a DNS cluster not yet resolved yields its name. */
function adsTargets(cluster: Cluster | undefined): string[] {
  if (cluster === undefined) return [];
  const keys = cluster.hosts.map((h) => h.key);
  if (keys.length > 0 || cluster.dns === undefined) return keys;
  const name = firstEndpointTarget(cluster.config);
  return name === undefined ? [] : [name];
}
