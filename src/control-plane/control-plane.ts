/**
 * The discovery server assembled: mesh.yaml source → translator → snapshot cache → ADS server, plus
 * the admin server. A bad mesh edit (invalid file, or a translation that is not self-consistent) keeps
 * the last good mesh in force; the error is logged and shown on /config.
 */
import type * as http from "node:http";
import { performance } from "node:perf_hooks";
import { ErrorCode, formatFieldErrors, PilotfishError, type FieldError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { AdsServer } from "./ads-server.js";
import { hostname } from "node:os";
import { PushTracer } from "../telemetry/push-tracer.js";
import { AdsMetrics } from "./ads-server-metrics.js";
import { controlPlaneAdminPort, startControlPlaneAdmin, stopControlPlaneAdmin } from "./admin-server.js";
import { type DiscoveredEndpoints, NO_DISCOVERED_ENDPOINTS } from "./discovery/discovered-endpoints.js";
import { KubernetesDiscovery, kubernetesTargets } from "./discovery/kubernetes-discovery.js";
import type { ListWatchOptions } from "./discovery/kubernetes-list-watch.js";
import { loadKubeConfig } from "./discovery/kubernetes-config.js";
import type { MeshConfig } from "./mesh/mesh-model.js";
import { loadMeshFile, watchMeshFile, type MeshValidation, type MeshWatch } from "./mesh/mesh-source.js";
import { NodeRegistry } from "./node-registry.js";
import { buildSnapshot } from "./snapshot.js";
import { SnapshotCache } from "./snapshot-cache.js";
import type { NodeIdentity, XdsResources } from "./xds-resources.js";

/** Turns the mesh (and discovered endpoints) into one node's resources (translateMesh in production). */
export type MeshTranslator = (mesh: MeshConfig, node: NodeIdentity, discovered?: DiscoveredEndpoints) => XdsResources;

/** How to run the discovery server. */
export interface ControlPlaneOptions {
  /** mesh.yaml path. */
  readonly meshFile: string;
  /** The mesh → xDS translator. */
  readonly translate: MeshTranslator;
  /** Logger (JSON lines). */
  readonly log: Logger;
  /** xDS (ADS) listen address; default 0.0.0.0. */
  readonly xdsHost?: string;
  /** xDS port; 0 picks one. Default 18000. */
  readonly xdsPort?: number;
  /** Admin listen address; default 0.0.0.0 (read-only endpoints, scraped by Prometheus). */
  readonly adminHost?: string;
  /** Admin port; 0 picks one. Default 18001. */
  readonly adminPort?: number;
  /** Re-read mesh.yaml on change (default true). */
  readonly watch?: boolean;
  /** Debounce of the file watcher, ms (tests shorten it). */
  readonly watchDebounceMs?: number;
  /** Kubernetes discovery; only used when mesh.yaml has a `discovery: {kubernetes}` upstream. */
  readonly kubernetes?: ControlPlaneKubernetesOptions;
}

/** How the discovery server reaches Kubernetes. */
export interface ControlPlaneKubernetesOptions {
  /** kubeconfig file; undefined = in-cluster service account, else $KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig?: string;
  /** How long start() waits for the first list of every Service before serving anyway, ms (default 10 s). */
  readonly syncTimeoutMs?: number;
  /** Retry and watch tuning (tests shorten the retries). */
  readonly listWatch?: ListWatchOptions;
}

/** The bound ports. */
export interface ControlPlanePorts {
  readonly xds: number;
  readonly admin: number;
}

/** A rejected mesh, as /config shows it. */
export interface MeshError {
  /** ISO time of the rejected load. */
  readonly time: string;
  /** Every problem, with its path in mesh.yaml (or in the translated resources). */
  readonly errors: readonly FieldError[];
}

/** Nodes used to check a new mesh before it goes live: a sidecar and a proxyless client. */
const PROBE_NODES: readonly NodeIdentity[] = [
  { id: "pilotfish-probe", cluster: "", proxyless: false },
  { id: "pilotfish-probe", cluster: "", proxyless: true },
];

export class ControlPlane {
  /** A span per push when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  private readonly pushTracer: PushTracer | undefined;
  /** Streams and their ACK/NACK state. */
  readonly registry = new NodeRegistry();
  /** Prometheus metrics. */
  readonly metrics = new AdsMetrics(this.registry);
  /** Node snapshots. */
  readonly cache: SnapshotCache;
  private readonly ads: AdsServer;
  private admin: http.Server | undefined;
  private meshWatch: MeshWatch | undefined;
  private mesh: MeshConfig | undefined;
  private meshLoadedAt: string | undefined;
  private lastError: MeshError | null = null;
  private ready = false;
  /** Created with the first mesh that has a `discovery: {kubernetes}` upstream. */
  private kubernetes: KubernetesDiscovery | undefined;
  /** Endpoints in the current snapshot from discovery sources. */
  private discovered: DiscoveredEndpoints = NO_DISCOVERED_ENDPOINTS;

  constructor(private readonly options: ControlPlaneOptions) {
    // The translator reads only node.cluster (listener selection) and proxyless (listener form), so
    // nodes sharing both share one snapshot: a fleet costs one translation per group, not per sidecar.
    this.cache = new SnapshotCache(undefined, {
      groupKey: (n) => `${n.cluster}\0${String(n.proxyless)}`,
      log: options.log,
    });
    this.pushTracer = PushTracer.fromEnv(process.env, `pilotfish-control-plane@${hostname()}`);
    this.ads = new AdsServer({
      cache: this.cache,
      registry: this.registry,
      metrics: this.metrics,
      log: options.log,
      pushTracer: this.pushTracer,
    });
  }

  /**
   * Loads the mesh, binds both ports and starts watching. Throws PilotfishError (CONFIG_INVALID,
   * CONFIG_UNREADABLE, SNAPSHOT_INCONSISTENT, LISTEN_FAILED) when it cannot start.
   */
  async start(): Promise<ControlPlanePorts> {
    const o = this.options;
    const mesh = loadMeshFile(o.meshFile);
    this.trackDiscovery(mesh);
    const errors = this.apply(mesh);
    if (errors.length > 0) {
      throw new PilotfishError(ErrorCode.SNAPSHOT_INCONSISTENT, `${o.meshFile} translates to inconsistent resources:\n${formatFieldErrors(errors)}`, errors);
    }
    this.metrics.meshReload(true);
    if (this.kubernetes !== undefined) {
      // Sidecars connecting now should get the Services' endpoints, not an empty set, when the API answers.
      const synced = await this.kubernetes.synced(o.kubernetes?.syncTimeoutMs ?? 10_000);
      if (!synced) o.log.warn("Kubernetes not listed yet; serving without its endpoints until it answers");
    }
    const xds = await this.ads.start(o.xdsHost ?? "0.0.0.0", o.xdsPort ?? 18000);
    try {
      this.admin = await startControlPlaneAdmin(o.adminHost ?? "0.0.0.0", o.adminPort ?? 18001, {
        registry: this.registry,
        metrics: this.metrics,
        isReady: () => this.ready,
        configView: () => this.configView(),
      });
    } catch (err) {
      await this.ads.stop(0);
      throw new PilotfishError(ErrorCode.LISTEN_FAILED, `admin server cannot bind: ${(err as Error).message}`, [], { cause: err });
    }
    if (o.watch ?? true) {
      this.meshWatch = watchMeshFile(o.meshFile, (r) => this.onMeshChange(r), { debounceMs: o.watchDebounceMs });
      await this.meshWatch.ready;
    }
    this.ready = true;
    const ports = { xds, admin: controlPlaneAdminPort(this.admin) };
    o.log.info({ xds_port: ports.xds, admin_port: ports.admin, mesh: o.meshFile }, "control plane ready");
    return ports;
  }

  /** Stops watching and serving; open ADS streams are cancelled (clients reconnect elsewhere). */
  async stop(): Promise<void> {
    this.ready = false;
    await this.meshWatch?.close();
    await this.kubernetes?.stop();
    await this.ads.stop();
    if (this.admin !== undefined) await stopControlPlaneAdmin(this.admin);
    await this.pushTracer?.shutdown();
  }

  /** The mesh in force and the last rejected edit (GET /config). */
  configView(): unknown {
    return {
      mesh_file: this.options.meshFile,
      loaded_at: this.meshLoadedAt ?? null,
      mesh: this.mesh ?? null,
      discovered_endpoints: Object.fromEntries(this.discovered),
      last_error: this.lastError,
      snapshot_failure: this.cache.lastFailure(),
    };
  }

  /** The last rejected mesh edit, or null once a good one replaced it. */
  lastMeshError(): MeshError | null {
    return this.lastError;
  }

  private onMeshChange(result: MeshValidation): void {
    const log = this.options.log;
    if (!result.ok) {
      this.reject(result.errors);
      return;
    }
    try {
      this.trackDiscovery(result.mesh);
    } catch (err) {
      this.reject([{ path: "discovery", message: (err as Error).message }]);
      return;
    }
    const errors = this.apply(result.mesh);
    if (errors.length > 0) {
      this.reject(errors);
      return;
    }
    this.metrics.meshReload(true);
    log.info({ mesh: this.options.meshFile, nodes: this.registry.count() }, "mesh reloaded");
  }

  private reject(errors: readonly FieldError[]): void {
    this.lastError = { time: new Date().toISOString(), errors };
    this.metrics.meshReload(false);
    this.options.log.error({ mesh: this.options.meshFile, errors }, "mesh rejected; the last good mesh stays in force");
  }

  /**
   * Checks a mesh by translating it for the probe nodes, then makes it current. Returns the problems
   * (and changes nothing) when a translation fails or is inconsistent.
   */
  private apply(mesh: MeshConfig): FieldError[] {
    const translate = this.options.translate;
    const discovered = this.kubernetes?.endpointsFor(mesh) ?? NO_DISCOVERED_ENDPOINTS;
    try {
      for (const node of PROBE_NODES) buildSnapshot(translate(mesh, node, discovered), 0);
    } catch (err) {
      if (PilotfishError.is(err) && err.details.length > 0) return [...err.details];
      return [{ path: "(translation)", message: (err as Error).message }];
    }
    const changedAt = performance.now();
    this.mesh = mesh;
    this.meshLoadedAt = new Date().toISOString();
    this.lastError = null;
    this.publish(mesh, discovered, changedAt);
    return [];
  }

  private publish(mesh: MeshConfig, discovered: DiscoveredEndpoints, changedAt: number): void {
    const translate = this.options.translate;
    this.discovered = discovered;
    this.cache.setGenerator((node) => translate(mesh, node, discovered), changedAt);
  }

  /**
   * Starts or stops Kubernetes watches so that exactly the Services `mesh` names are watched. The
   * client is created with the first mesh that needs it.
   * @throws PilotfishError PF_KUBERNETES_CONFIG when no client configuration is usable.
   */
  private trackDiscovery(mesh: MeshConfig): void {
    const targets = kubernetesTargets(mesh);
    if (targets.length === 0 && this.kubernetes === undefined) return;
    const log = this.options.log;
    this.kubernetes ??= new KubernetesDiscovery({
      kubeConfig: loadKubeConfig(this.options.kubernetes?.kubeconfig),
      log,
      listWatch: this.options.kubernetes?.listWatch,
      onChange: () => this.onEndpointsChange(),
    });
    this.kubernetes.track(targets).catch((err: unknown) => log.error({ err: (err as Error).message }, "stopping a Kubernetes watch failed"));
  }

  /** A watched Kubernetes object changed: re-translate the mesh in force with the new endpoints. */
  private onEndpointsChange(): void {
    const mesh = this.mesh;
    if (mesh === undefined || this.kubernetes === undefined) return;
    this.publish(mesh, this.kubernetes.endpointsFor(mesh), performance.now());
  }
}
