/** ClusterManager: name → Cluster, the router's only way to reach upstreams. */
import type { Random } from "../common/clock.js";
import type { ClusterConfig } from "../config/model.js";
import type { Counter, StatsStore } from "../stats/stats-store.js";
import { Cluster } from "./cluster.js";

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();
  /** Envoy's cluster_manager.cluster_added / cluster_modified / cluster_removed: every (re)build counts. */
  private readonly counters: { readonly added: Counter; readonly modified: Counter; readonly removed: Counter };

  constructor(
    private readonly store: StatsStore,
    private readonly random: Random,
  ) {
    this.counters = {
      added: store.counter("cluster_manager.cluster_added"),
      modified: store.counter("cluster_manager.cluster_modified"),
      removed: store.counter("cluster_manager.cluster_removed"),
    };
  }

  /** Adds a cluster or replaces the one with the same name (the old one's connections drain). */
  addOrUpdate(config: ClusterConfig): Cluster {
    const old = this.clusters.get(config.name);
    if (old !== undefined && old.config === config) return old;
    const cluster = new Cluster(config, this.store, this.random);
    this.clusters.set(config.name, cluster);
    (old === undefined ? this.counters.added : this.counters.modified).inc();
    old?.close();
    return cluster;
  }

  /** Removes a cluster; its connections drain. */
  remove(name: string): void {
    const c = this.clusters.get(name);
    if (c === undefined) return;
    c.close();
    this.clusters.delete(name);
    this.counters.removed.inc();
  }

  /** The cluster with this name, if any. */
  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  /** Every cluster, in insertion order. */
  all(): IterableIterator<Cluster> {
    return this.clusters.values();
  }

  /** Closes every cluster's connections gracefully. */
  close(): void {
    for (const c of this.clusters.values()) c.close();
  }

  /** Destroys every cluster's connections. */
  destroy(): void {
    for (const c of this.clusters.values()) c.destroy();
  }
}
