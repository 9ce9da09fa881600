/**
 * A Kubernetes API server stand-in for the discovery tests. No real API server (nor kind, k3s or
 * envtest) can run on this machine, so this is a real node:http server speaking the real protocol for
 * the two collections Pilotfish reads:
 *   GET /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices?labelSelector=kubernetes.io/service-name=<svc>
 *   GET /api/v1/namespaces/<ns>/services?fieldSelector=metadata.name=<svc>
 * A list answers `{kind: ...List, metadata: {resourceVersion}, items}`; `?watch=1|true&resourceVersion=N`
 * streams newline-delimited `{type, object}` events after N (ADDED/MODIFIED/DELETED, BOOKMARK on request),
 * and answers a compacted version with an ERROR event carrying a `Status` with code 410, as the API
 * server does. Objects are real EndpointSlice / Service JSON; resourceVersions come from one counter.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

type Kind = "endpointslices" | "services";

/** An object as the API serves it (apiVersion, kind, metadata, ...). */
export type KubeObject = Record<string, unknown> & { metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> } };

interface Event {
  readonly rv: number;
  readonly kind: Kind;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: KubeObject;
}

/** One request the stand-in received. */
export interface RecordedRequest {
  readonly kind: Kind;
  readonly watch: boolean;
  /** The resourceVersion query parameter ("" when absent). */
  readonly resourceVersion: string;
  readonly query: URLSearchParams;
}

interface OpenWatch {
  readonly kind: Kind;
  readonly res: http.ServerResponse;
  readonly matches: (o: KubeObject) => boolean;
}

/** One endpoint of a slice. */
export interface SliceEndpoint {
  readonly ip: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly zone?: string;
  readonly pod?: string;
}

/** A discovery.k8s.io/v1 EndpointSlice of `service` with one port. */
export function endpointSlice(
  namespace: string,
  service: string,
  name: string,
  port: { name: string; port: number },
  endpoints: readonly SliceEndpoint[],
): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name,
      namespace,
      labels: { "kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name: service, uid: "0d8e4c2a-1111-4bbb-9ccc-000000000001", controller: true, blockOwnerDeletion: true }],
    },
    addressType: "IPv4",
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.zone === undefined ? {} : { zone: e.zone }),
      nodeName: "node-1",
      targetRef: { kind: "Pod", namespace, name: e.pod ?? name, uid: `uid-${e.pod ?? name}` },
    })),
    ports: [{ name: port.name, port: port.port, protocol: "TCP", appProtocol: "kubernetes.io/h2c" }],
  } as KubeObject;
}

/** A v1 Service with named ports (`targetPort` by name, as the slices resolve it). */
export function service(namespace: string, name: string, ports: readonly { name: string; port: number }[]): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, uid: "0d8e4c2a-1111-4bbb-9ccc-000000000001" },
    spec: {
      type: "ClusterIP",
      clusterIP: "10.96.0.42",
      selector: { app: name },
      ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: "TCP", targetPort: p.name })),
    },
    status: { loadBalancer: {} },
  } as KubeObject;
}

export class KubernetesApiStandIn {
  readonly requests: RecordedRequest[] = [];
  private readonly server: http.Server;
  private readonly objects = new Map<string, { kind: Kind; object: KubeObject }>();
  private readonly events: Event[] = [];
  private readonly watches = new Set<OpenWatch>();
  private rv = 1000;
  /** Events at or below this resourceVersion are compacted: watching from before it gets 410. */
  private compactedRv = 0;
  /** When set, every request gets this HTTP status (the API is "down"). */
  failWith: number | undefined;
  /** When true, watches get no response headers (an API server or proxy that hangs). */
  holdWatchHeaders = false;
  /** When set, watch requests (only) get this HTTP status, e.g. 410 from a proxy or an old API server. */
  failWatchesWith: number | undefined;

  private constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  static async start(): Promise<KubernetesApiStandIn> {
    const api = new KubernetesApiStandIn();
    await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
    return api;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** A kubeconfig pointing at this server (plain HTTP, token auth). */
  kubeconfig(): string {
    return [
      "apiVersion: v1",
      "kind: Config",
      // client-node refuses plain HTTP unless told to skip TLS verification (there is no TLS to verify).
      "clusters: [{name: standin, cluster: {server: 'http://127.0.0.1:" + String(this.port) + "', insecure-skip-tls-verify: true}}]",
      "users: [{name: tester, user: {token: test-token}}]",
      "contexts: [{name: standin, context: {cluster: standin, user: tester}}]",
      "current-context: standin",
      "",
    ].join("\n");
  }

  /** Current resourceVersion (that of the last change). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Creates or replaces an object, emitting ADDED or MODIFIED to matching watches. */
  apply(kind: Kind, object: KubeObject): void {
    const key = `${kind}/${object.metadata.namespace}/${object.metadata.name}`;
    const type = this.objects.has(key) ? "MODIFIED" : "ADDED";
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, { kind, object: stored });
    this.emit({ rv: this.rv, kind, type, object: stored });
  }

  /** Deletes an object, emitting DELETED. */
  delete(kind: Kind, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`;
    const cur = this.objects.get(key);
    if (cur === undefined) return;
    this.objects.delete(key);
    const gone = structuredClone(cur.object);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, kind, type: "DELETED", object: gone });
  }

  /** Changes an object without telling any watch (an event the client missed), for the 410 test. */
  applySilently(kind: Kind, object: KubeObject): void {
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(`${kind}/${object.metadata.namespace}/${object.metadata.name}`, { kind, object: stored });
  }

  /** Watch streams open right now. */
  get openWatches(): number {
    return this.watches.size;
  }

  /** Ends every open watch stream cleanly, as a proxy or the API server's timeout does. */
  closeWatches(): number {
    const n = this.watches.size;
    for (const w of this.watches) w.res.end();
    this.watches.clear();
    return n;
  }

  /**
   * Compacts history up to now, then tells every open watch its version is gone: an ERROR event with a
   * 410 Status, then the end of the stream. Watching from any older version now gets the same answer.
   */
  expireWatches(): number {
    this.compactedRv = this.rv;
    const n = this.watches.size;
    for (const w of this.watches) {
      w.res.end(JSON.stringify({ type: "ERROR", object: this.goneStatus("0") }) + "\n");
    }
    this.watches.clear();
    return n;
  }

  /** Sends a BOOKMARK carrying the current resourceVersion to every open watch that asked for them. */
  bookmark(): void {
    for (const w of this.watches) {
      const kind = w.kind === "services" ? "Service" : "EndpointSlice";
      const apiVersion = w.kind === "services" ? "v1" : "discovery.k8s.io/v1";
      w.res.write(JSON.stringify({ type: "BOOKMARK", object: { kind, apiVersion, metadata: { resourceVersion: this.resourceVersion } } }) + "\n");
    }
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private emit(e: Event): void {
    this.events.push(e);
    for (const w of this.watches) {
      if (w.kind === e.kind && w.matches(e.object)) w.res.write(JSON.stringify({ type: e.type, object: e.object }) + "\n");
    }
  }

  private goneStatus(asked: string): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `too old resource version: ${asked} (${this.compactedRv + 1})`,
      reason: "Expired",
      code: 410,
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const m =
      /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/(endpointslices)$/.exec(url.pathname) ??
      /^\/api\/v1\/namespaces\/([^/]+)\/(services)$/.exec(url.pathname);
    if (m === null) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", code: 404, message: "not found" }));
      return;
    }
    const namespace = m[1];
    const kind = m[2] as Kind;
    const watch = url.searchParams.get("watch") === "1" || url.searchParams.get("watch") === "true";
    const resourceVersion = url.searchParams.get("resourceVersion") ?? "";
    this.requests.push({ kind, watch, resourceVersion, query: url.searchParams });
    const fail = this.failWith ?? (watch ? this.failWatchesWith : undefined);
    if (fail !== undefined) {
      res.writeHead(fail, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", code: fail, message: "failing on purpose" }));
      return;
    }
    if (req.headers.authorization !== "Bearer test-token") {
      res.writeHead(401).end();
      return;
    }
    const matches = selector(namespace, url.searchParams);
    if (!watch) {
      const items = [...this.objects.values()].filter((o) => o.kind === kind && matches(o.object)).map((o) => o.object);
      const listKind = kind === "services" ? "ServiceList" : "EndpointSliceList";
      const apiVersion = kind === "services" ? "v1" : "discovery.k8s.io/v1";
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ kind: listKind, apiVersion, metadata: { resourceVersion: this.resourceVersion }, items }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    // The API server answers a watch's headers at once, before any event (unless told to hang).
    if (!this.holdWatchHeaders) res.flushHeaders();
    const from = Number(resourceVersion || "0");
    if (from < this.compactedRv) {
      res.end(JSON.stringify({ type: "ERROR", object: this.goneStatus(resourceVersion) }) + "\n");
      return;
    }
    for (const e of this.events) {
      if (e.rv > from && e.kind === kind && matches(e.object)) res.write(JSON.stringify({ type: e.type, object: e.object }) + "\n");
    }
    const w: OpenWatch = { kind, res, matches };
    this.watches.add(w);
    res.on("close", () => this.watches.delete(w));
  }
}

/** labelSelector `k=v` and fieldSelector `metadata.name=x`, the two forms Pilotfish sends. */
function selector(namespace: string, q: URLSearchParams): (o: KubeObject) => boolean {
  const label = q.get("labelSelector");
  const field = q.get("fieldSelector");
  const [lk, lv] = label?.split("=") ?? [];
  const fv = field?.startsWith("metadata.name=") ? field.slice("metadata.name=".length) : undefined;
  return (o) =>
    o.metadata.namespace === namespace &&
    (lk === undefined || o.metadata.labels?.[lk] === lv) &&
    (fv === undefined || o.metadata.name === fv);
}
