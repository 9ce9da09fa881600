/**
 * Kubernetes as a discovery source: for each (namespace, Service) some upstream names, one list+watch
 * of its EndpointSlices (label kubernetes.io/service-name) and one of the Service itself (for port
 * names). Any change schedules one `onChange` (coalesced within a turn of the event loop); the control
 * plane then asks `endpointsFor(mesh)` and pushes a new snapshot, of which only the EDS resources of
 * the changed upstreams differ.
 */
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Service } from "@kubernetes/client-node";
import type { Logger } from "../../common/logger.js";
import type { MeshConfig } from "../mesh/mesh-model.js";
import type { DiscoveredEndpoint, DiscoveredEndpoints } from "./discovered-endpoints.js";
import { endpointsFromSlices } from "./kubernetes-endpoints.js";
import { KubernetesListWatch, type ListWatchOptions } from "./kubernetes-list-watch.js";

/** A Service some upstream takes its endpoints from. */
export interface KubernetesTarget {
  readonly namespace: string;
  readonly service: string;
}

/** The Services a mesh needs watched (deduplicated). */
export function kubernetesTargets(mesh: MeshConfig): KubernetesTarget[] {
  const byKey = new Map<string, KubernetesTarget>();
  for (const u of mesh.upstreams) {
    const d = u.discovery;
    if (d?.kind === "kubernetes") byKey.set(targetKey(d), { namespace: d.namespace, service: d.service });
  }
  return [...byKey.values()];
}

function targetKey(t: KubernetesTarget): string {
  return `${t.namespace}/${t.service}`;
}

/** The two watches of one Service. */
interface ServiceWatch {
  readonly slices: KubernetesListWatch<V1EndpointSlice>;
  readonly service: KubernetesListWatch<V1Service>;
}

export interface KubernetesDiscoveryOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: Logger;
  /** Called (coalesced) after any watched object changed. */
  readonly onChange: () => void;
  readonly listWatch?: ListWatchOptions;
}

export class KubernetesDiscovery {
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly discovery: DiscoveryV1Api;
  private readonly core: CoreV1Api;
  private scheduled = false;

  constructor(private readonly options: KubernetesDiscoveryOptions) {
    this.discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Watches exactly `targets`: starts the new ones, stops those no longer named. */
  async track(targets: readonly KubernetesTarget[]): Promise<void> {
    const wanted = new Map(targets.map((t) => [targetKey(t), t]));
    const stopping: Promise<void>[] = [];
    for (const [key, w] of this.watches) {
      if (wanted.has(key)) continue;
      this.watches.delete(key);
      stopping.push(w.slices.stop(), w.service.stop());
    }
    for (const [key, t] of wanted) {
      if (this.watches.has(key)) continue;
      const w = this.watch(t);
      this.watches.set(key, w);
      w.slices.start();
      w.service.start();
    }
    await Promise.all(stopping);
  }

  /** Resolves once every tracked Service has been listed once, or after `timeoutMs`; true if synced. */
  async synced(timeoutMs: number): Promise<boolean> {
    const all = Promise.all([...this.watches.values()].flatMap((w) => [w.slices.whenSynced(), w.service.whenSynced()]));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([all.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Endpoints of every `discovery: {kubernetes}` upstream of `mesh`, as last seen. */
  endpointsFor(mesh: MeshConfig): DiscoveredEndpoints {
    const out = new Map<string, readonly DiscoveredEndpoint[]>();
    for (const u of mesh.upstreams) {
      const d = u.discovery;
      if (d?.kind !== "kubernetes") continue;
      const w = this.watches.get(targetKey(d));
      if (w === undefined) continue;
      out.set(u.name, endpointsFromSlices(w.service.store.get(d.service), w.slices.store.values(), d.port));
    }
    return out;
  }

  /** Stops every watch. */
  async stop(): Promise<void> {
    const all = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(all.flatMap((w) => [w.slices.stop(), w.service.stop()]));
  }

  private watch(t: KubernetesTarget): ServiceWatch {
    const { kubeConfig, log, listWatch } = this.options;
    const onChange = (): void => this.schedule();
    const labelSelector = `kubernetes.io/service-name=${t.service}`;
    const fieldSelector = `metadata.name=${t.service}`;
    const slices = new KubernetesListWatch<V1EndpointSlice>(
      kubeConfig,
      {
        what: `endpointslices ${targetKey(t)}`,
        path: `/apis/discovery.k8s.io/v1/namespaces/${t.namespace}/endpointslices`,
        query: { labelSelector },
        list: async () => {
          const l = await this.discovery.listNamespacedEndpointSlice({ namespace: t.namespace, labelSelector });
          return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
        },
      },
      onChange,
      log,
      listWatch,
    );
    const service = new KubernetesListWatch<V1Service>(
      kubeConfig,
      {
        what: `services ${targetKey(t)}`,
        path: `/api/v1/namespaces/${t.namespace}/services`,
        query: { fieldSelector },
        list: async () => {
          const l = await this.core.listNamespacedService({ namespace: t.namespace, fieldSelector });
          return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
        },
      },
      onChange,
      log,
      listWatch,
    );
    return { slices, service };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Coalesces the burst of events one rollout step produces (a slice update per pod condition).
    setImmediate(() => {
      this.scheduled = false;
      this.options.onChange();
    });
  }
}
