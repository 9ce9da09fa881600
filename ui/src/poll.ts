/** One poll of the dashboard's data: nodes and config, then each sidecar's clusters, in parallel. */
import { getJson, hostAddress, type ClustersView, type ConfigView, type NodeView } from "./api";
import { RateTracker, type HostRates } from "./rates";

/** How often the page polls. */
export const POLL_MS = 1500;

export interface NodeClusters {
  readonly view: ClustersView | null;
  readonly error: string | null;
  /** By `${cluster}/${address}`. */
  readonly rates: ReadonlyMap<string, HostRates>;
}

export interface Snapshot {
  readonly nodes: readonly NodeView[];
  readonly config: ConfigView | null;
  /** By node id. */
  readonly clusters: ReadonlyMap<string, NodeClusters>;
  /** Time of the last poll that reached the discovery server. */
  readonly updatedAt: Date;
}

export function rateKey(cluster: string, address: string): string {
  return `${cluster}/${address}`;
}

export class Poller {
  private readonly tracker = new RateTracker();

  async poll(signal: AbortSignal): Promise<Snapshot> {
    const [nodes, config] = await Promise.all([
      getJson<{ nodes: NodeView[] }>("nodes", signal),
      getJson<ConfigView>("config", signal),
    ]);
    // A node id may have several streams (a restart overlapping the old one): fetch its clusters once.
    const ids = [...new Set(nodes.nodes.filter((n) => n.admin !== null).map((n) => n.id))];
    const results = await Promise.all(
      ids.map(async (id): Promise<[string, NodeClusters]> => {
        try {
          const view = await getJson<ClustersView>(`nodes/${encodeURIComponent(id)}/clusters`, signal);
          const now = Date.now();
          const rates = new Map<string, HostRates>();
          for (const c of view.clusters.cluster_statuses) {
            for (const h of c.host_statuses) {
              const key = rateKey(c.name, hostAddress(h));
              rates.set(key, this.tracker.observe(`${id}\0${key}`, h, now));
            }
          }
          return [id, { view, error: null, rates }];
        } catch (err) {
          if (signal.aborted) throw err;
          return [id, { view: null, error: (err as Error).message, rates: new Map() }];
        }
      }),
    );
    return { nodes: nodes.nodes, config, clusters: new Map(results), updatedAt: new Date() };
  }
}
