/**
 * Applies what the ADS client accepted to the running sidecar, with warming as Envoy does it: a
 * cluster takes traffic once its endpoints arrived, a listener once its routes arrived; until then
 * the previous version (if any) keeps serving. Endpoint updates keep the hosts that stay (their
 * pools, counters and flags); route updates swap in a new immutable route table.
 */
import { deepFreeze } from "../common/freeze.js";
import type { Logger } from "../common/logger.js";
import type { ClusterConfig, ListenerConfig, LocalityEndpointsConfig, RouteConfig } from "../config/model.js";
import type { ClusterManager } from "../upstream/cluster-manager.js";
import type { AdsClient, AdsHandler } from "../xds/ads-client.js";
import type { EndpointsResource, ResourceValues } from "../xds/resource-types.js";
import { TypeUrl } from "../xds/type-urls.js";

/** What the dynamic config needs from the sidecar to manage listeners. */
export interface ListenerHost {
  /** Creates or updates a listener (same address: in place; new address: drain the old one). */
  upsertListener(config: ListenerConfig, routes: RouteConfig | undefined): void;
  /** Sets the routes of a running listener. */
  setListenerRoutes(name: string, routes: RouteConfig): void;
  /** Drains and removes a listener. */
  removeListener(name: string): void;
  /** Whether a listener runs with exactly this config object. */
  runs(name: string, config: ListenerConfig): boolean;
}

export class DynamicConfig implements AdsHandler {
  private ads: AdsClient | undefined;
  private readonly cdsClusters = new Map<string, ClusterConfig>();
  /** Which CDS config each active dynamic cluster was built from. */
  private readonly activeFrom = new Map<string, ClusterConfig>();
  private readonly endpoints = new Map<string, readonly LocalityEndpointsConfig[]>();
  private readonly ldsListeners = new Map<string, ListenerConfig>();
  private readonly routes = new Map<string, RouteConfig>();
  private readonly seen = new Set<TypeUrl>();
  private initialized = false;
  private initTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clusters: ClusterManager,
    private readonly listeners: ListenerHost,
    private readonly staticClusters: ReadonlySet<string>,
    private readonly log: Logger,
    /** The wildcard types whose first response initialisation waits for. */
    private readonly initialTypes: readonly TypeUrl[] = [],
  ) {}

  /**
   * Whether initialisation is over: the first CDS and LDS responses arrived and nothing they named
   * is still warming, or initial_fetch_timeout passed (as Envoy's init manager; /ready waits for it).
   */
  get ready(): boolean {
    return this.initialized;
  }

  /** Starts the initial_fetch_timeout clock (0 = wait forever). */
  startInitTimer(timeoutMs: number): void {
    if (timeoutMs <= 0 || this.initialized) return;
    this.initTimer = setTimeout(() => {
      if (this.initialized) return;
      this.initialized = true;
      this.log.warn({ timeout_ms: timeoutMs }, "xDS initial fetch timed out; serving what has arrived");
    }, timeoutMs);
    this.initTimer.unref();
  }

  onResponse(typeUrl: TypeUrl): void {
    this.seen.add(typeUrl);
    this.checkInitialized();
  }

  private checkInitialized(): void {
    if (this.initialized || !this.initialTypes.every((t) => this.seen.has(t))) return;
    for (const c of this.cdsClusters.values()) {
      if (c.type === "EDS" && !this.endpoints.has(c.edsServiceName ?? c.name)) return;
    }
    for (const l of this.ldsListeners.values()) {
      if (l.hcm.rdsName !== undefined && !this.routes.has(l.hcm.rdsName)) return;
    }
    this.initialized = true;
    if (this.initTimer !== undefined) clearTimeout(this.initTimer);
    this.log.info("xDS initial fetch complete");
  }

  /** Connects the client whose subscriptions this object steers. */
  attach(ads: AdsClient): void {
    this.ads = ads;
  }

  onUpdate<U extends TypeUrl>(typeUrl: U, changed: ReadonlyMap<string, ResourceValues[U]>, removed: readonly string[]): void {
    switch (typeUrl) {
      case TypeUrl.CLUSTER:
        return this.onClusters(changed as ReadonlyMap<string, ClusterConfig>, removed);
      case TypeUrl.ENDPOINT:
        return this.onEndpoints(changed as ReadonlyMap<string, EndpointsResource>);
      case TypeUrl.LISTENER:
        return this.onListeners(changed as ReadonlyMap<string, ListenerConfig>, removed);
      case TypeUrl.ROUTE:
        return this.onRoutes(changed as ReadonlyMap<string, RouteConfig>);
    }
  }

  private onClusters(changed: ReadonlyMap<string, ClusterConfig>, removed: readonly string[]): void {
    for (const [name, cfg] of changed) {
      if (this.staticClusters.has(name)) {
        this.log.warn({ cluster: name }, "CDS cluster shadows a static cluster; ignored");
        continue;
      }
      this.cdsClusters.set(name, cfg);
      // STATIC and DNS clusters carry their endpoints (DNS ones resolve them once active).
      if (cfg.type !== "EDS") this.activate(cfg, cfg.endpoints);
      else {
        const eps = this.endpoints.get(cfg.edsServiceName ?? name);
        if (eps !== undefined) this.activate(cfg, eps);
      }
    }
    for (const name of removed) {
      if (this.staticClusters.has(name)) continue;
      this.cdsClusters.delete(name);
      this.activeFrom.delete(name);
      this.clusters.remove(name);
    }
    const eds = new Set<string>();
    for (const c of this.cdsClusters.values()) if (c.type === "EDS") eds.add(c.edsServiceName ?? c.name);
    for (const n of [...this.endpoints.keys()]) if (!eds.has(n)) this.endpoints.delete(n);
    this.ads?.setSubscription(TypeUrl.ENDPOINT, eds);
  }

  private onEndpoints(changed: ReadonlyMap<string, EndpointsResource>): void {
    for (const [svc, res] of changed) {
      this.endpoints.set(svc, res.localities);
      for (const cfg of this.cdsClusters.values()) {
        if (cfg.type !== "EDS" || (cfg.edsServiceName ?? cfg.name) !== svc) continue;
        const active = this.clusters.get(cfg.name);
        if (active !== undefined && this.activeFrom.get(cfg.name) === cfg) active.updateEndpoints(res.localities);
        else this.activate(cfg, res.localities);
      }
    }
  }

  private activate(cfg: ClusterConfig, eps: readonly LocalityEndpointsConfig[]): void {
    this.activeFrom.set(cfg.name, cfg);
    this.clusters.addOrUpdate(deepFreeze({ ...cfg, endpoints: eps }));
    this.log.info({ cluster: cfg.name, endpoints: eps.reduce((n, l) => n + l.endpoints.length, 0) }, "cluster active");
  }

  private onListeners(changed: ReadonlyMap<string, ListenerConfig>, removed: readonly string[]): void {
    for (const [name, cfg] of changed) {
      this.ldsListeners.set(name, cfg);
      const rds = cfg.hcm.rdsName;
      if (rds === undefined) this.listeners.upsertListener(cfg, undefined);
      else {
        const routes = this.routes.get(rds);
        if (routes !== undefined) this.listeners.upsertListener(cfg, routes);
      }
    }
    for (const name of removed) {
      this.ldsListeners.delete(name);
      this.listeners.removeListener(name);
    }
    const rdsNames = new Set<string>();
    for (const l of this.ldsListeners.values()) if (l.hcm.rdsName !== undefined) rdsNames.add(l.hcm.rdsName);
    for (const n of [...this.routes.keys()]) if (!rdsNames.has(n)) this.routes.delete(n);
    this.ads?.setSubscription(TypeUrl.ROUTE, rdsNames);
  }

  private onRoutes(changed: ReadonlyMap<string, RouteConfig>): void {
    for (const [name, rc] of changed) {
      this.routes.set(name, rc);
      for (const cfg of this.ldsListeners.values()) {
        if (cfg.hcm.rdsName !== name) continue;
        if (this.listeners.runs(cfg.name, cfg)) this.listeners.setListenerRoutes(cfg.name, rc);
        else this.listeners.upsertListener(cfg, rc);
      }
    }
  }
}
