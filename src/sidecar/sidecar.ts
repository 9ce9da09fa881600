/**
 * The sidecar process: builds clusters and listeners from a Bootstrap, serves admin, drains on
 * request. Owns lifecycle only; requests are the connection managers' business.
 */
import type http from "node:http";
import { systemRandom, type Random } from "../common/clock.js";
import type { Logger } from "../common/logger.js";
import type { Bootstrap } from "../config/model.js";
import { Listener } from "../listener/listener.js";
import { StatsStore } from "../stats/stats-store.js";
import { ClusterManager } from "../upstream/cluster-manager.js";
import { adminPort, startAdminServer } from "../admin/admin-server.js";

/** Where a started sidecar listens. */
export interface SidecarPorts {
  /** Admin port, null without admin. */
  readonly admin: number | null;
  /** Listener name → bound port. */
  readonly listeners: Record<string, number>;
}

/** A running sidecar. */
export class Sidecar {
  readonly stats = new StatsStore();
  readonly clusters: ClusterManager;
  private readonly listeners: Listener[] = [];
  private admin: http.Server | undefined;
  private draining = false;
  private healthFailed = false;
  private drainPromise: Promise<void> | undefined;

  constructor(
    readonly bootstrap: Bootstrap,
    private readonly log: Logger,
    random: Random = systemRandom,
  ) {
    this.clusters = new ClusterManager(this.stats, random);
    for (const c of bootstrap.clusters) this.clusters.addOrUpdate(c);
    for (const l of bootstrap.listeners) this.listeners.push(new Listener(l, this.clusters, random, this.stats));
  }

  /** Binds listeners and admin. */
  async start(): Promise<SidecarPorts> {
    const ports: Record<string, number> = {};
    for (const l of this.listeners) ports[l.config.name] = await l.listen();
    let admin: number | null = null;
    if (this.bootstrap.admin !== undefined) {
      this.admin = await startAdminServer(this.bootstrap.admin.address, {
        stats: this.stats,
        clusters: this.clusters,
        isReady: () => !this.draining && !this.healthFailed,
        configDump: () => ({ bootstrap: this.bootstrap }),
        setHealthFailed: (f) => {
          this.healthFailed = f;
        },
        drainListeners: () => {
          void this.drainListeners(this.maxDrainTimeout());
        },
      });
      admin = adminPort(this.admin);
    }
    return { admin, listeners: ports };
  }

  /**
   * Graceful shutdown: /ready fails, listeners stop accepting and send GOAWAY, streams in flight get
   * up to the largest HCM drain_timeout to finish, then everything closes.
   */
  async shutdown(): Promise<void> {
    await this.drainListeners(this.maxDrainTimeout());
    this.clusters.destroy();
    await new Promise<void>((resolve) => (this.admin ? this.admin.close(() => resolve()) : resolve()));
    this.admin?.closeAllConnections();
  }

  private drainListeners(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.drainPromise ??= (async () => {
      this.log.info({ timeout_ms: timeoutMs }, "draining listeners");
      await Promise.all(this.listeners.map((l) => l.drain(timeoutMs)));
    })();
    return this.drainPromise;
  }

  private maxDrainTimeout(): number {
    return Math.max(0, ...this.bootstrap.listeners.map((l) => l.hcm.drainTimeoutMs));
  }
}
