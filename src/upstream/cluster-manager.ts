/** ClusterManager: name → Cluster, the router's only way to reach upstreams. */
import type { Random } from "../common/clock.js";
import type { ClusterConfig } from "../config/model.js";
import type { StatsStore } from "../stats/stats-store.js";
import { Cluster } from "./cluster.js";

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();

  constructor(
    private readonly store: StatsStore,
    private readonly random: Random,
  ) {}

  /** Adds a cluster or replaces the one with the same name (the old one's connections drain). */
  addOrUpdate(config: ClusterConfig): Cluster {
    const old = this.clusters.get(config.name);
    if (old !== undefined && old.config === config) return old;
    const cluster = new Cluster(config, this.store, this.random);
    this.clusters.set(config.name, cluster);
    old?.close();
    return cluster;
  }

  /** Removes a cluster; its connections drain. */
  remove(name: string): void {
    this.clusters.get(name)?.close();
    this.clusters.delete(name);
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
