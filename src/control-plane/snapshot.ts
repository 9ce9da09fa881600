/**
 * A snapshot: everything one node should hold, encoded once, with content-derived versions.
 *
 * Versions are hashes of the encoded bytes rather than counters so that two discovery-server replicas
 * serving the same mesh hand out the same versions (a sidecar failing over between them does not see
 * a spurious change), and so that a restart does not force every sidecar to re-apply everything.
 */
import { createHash } from "node:crypto";
import { ErrorCode, PilotfishError, type FieldError } from "../common/errors.js";
import { Cluster, Cluster_DiscoveryType } from "../gen/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";
import { HttpConnectionManager } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../gen/google/protobuf/any.js";
import { PUSH_ORDER, TypeUrl } from "../xds/type-urls.js";
import type { XdsResources } from "./xds-resources.js";

const HCM_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/** One encoded resource. */
export interface SnapshotEntry {
  /** Resource name (Listener.name, Cluster.name, ClusterLoadAssignment.cluster_name, ...). */
  readonly name: string;
  /** The resource as it goes on the wire. */
  readonly resource: Any;
  /** Content hash of the encoded bytes: the per-resource version in delta xDS. */
  readonly version: string;
}

/** All resources of one type URL. */
export interface TypeSnapshot {
  /** Content hash over the sorted (name, version) pairs: the SotW version_info. */
  readonly version: string;
  /** Name → entry, in name order. */
  readonly entries: ReadonlyMap<string, SnapshotEntry>;
}

/** Everything one node should hold. Immutable once built. */
export interface Snapshot {
  /** One entry per type URL in PUSH_ORDER (empty types included). */
  readonly types: ReadonlyMap<TypeUrl, TypeSnapshot>;
  /**
   * When the change that produced this snapshot happened (performance.now() milliseconds): the start
   * of the push-latency measurement that ends with the node's ACK.
   */
  readonly changedAt: number;
}

/** Short hex of sha256: 64 bits is plenty to tell versions of one node's config apart. */
function shortHash(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

function encodeType<T>(
  typeUrl: TypeUrl,
  items: readonly T[],
  nameOf: (item: T) => string,
  encode: (item: T) => Uint8Array,
  errors: FieldError[],
  path: string,
): TypeSnapshot {
  const entries: SnapshotEntry[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = nameOf(item);
    if (name === "") errors.push({ path: `${path}[${i}]`, message: "resource has no name" });
    else if (seen.has(name)) errors.push({ path: `${path}[${i}]`, message: `duplicate resource name "${name}"` });
    seen.add(name);
    const bytes = encode(item);
    // ts-proto (env=node) types Any.value as a Buffer: wrap, don't copy.
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    entries.push({ name, resource: { typeUrl, value }, version: shortHash(value) });
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const h = createHash("sha256");
  for (const e of entries) h.update(e.name).update("\0").update(e.version).update("\n");
  return {
    version: h.digest("hex").slice(0, 16),
    entries: new Map(entries.map((e) => [e.name, e])),
  };
}

/** The EDS resource name a cluster asks for, or undefined when it is not an EDS cluster. */
export function edsNameOf(cluster: Cluster): string | undefined {
  if (cluster.type !== Cluster_DiscoveryType.EDS) return undefined;
  const serviceName = cluster.edsClusterConfig?.serviceName ?? "";
  return serviceName !== "" ? serviceName : cluster.name;
}

/** Every HttpConnectionManager of a listener: in its filter chains and in its api_listener. */
export function connectionManagersOf(listener: Listener): HttpConnectionManager[] {
  const out: HttpConnectionManager[] = [];
  for (const chain of listener.filterChains) {
    for (const filter of chain.filters) {
      if (filter.typedConfig?.typeUrl === HCM_TYPE_URL) out.push(HttpConnectionManager.decode(filter.typedConfig.value));
    }
  }
  const api = listener.apiListener?.apiListener;
  if (api?.typeUrl === HCM_TYPE_URL) out.push(HttpConnectionManager.decode(api.value));
  return out;
}

/** Cluster names a route configuration sends traffic to. */
function clustersReferencedBy(route: RouteConfiguration): string[] {
  const out: string[] = [];
  for (const vh of route.virtualHosts) {
    for (const r of vh.routes) {
      if (r.action?.$case !== "route") continue;
      const spec = r.action.value.clusterSpecifier;
      if (spec?.$case === "cluster") out.push(spec.value);
      else if (spec?.$case === "weightedClusters") out.push(...spec.value.clusters.map((c) => c.name));
    }
  }
  return out;
}

/**
 * Checks that every reference resolves inside the same set: each EDS cluster has its
 * ClusterLoadAssignment, each RDS listener its RouteConfiguration, each route its cluster. A client
 * given a dangling reference would wait (warming) or fail requests, so we refuse to publish it.
 */
export function checkConsistency(resources: XdsResources): FieldError[] {
  const errors: FieldError[] = [];
  const clusterNames = new Set(resources.clusters.map((c) => c.name));
  const endpointNames = new Set(resources.endpoints.map((e) => e.clusterName));
  const routeNames = new Set(resources.routes.map((r) => r.name));
  resources.clusters.forEach((c, i) => {
    const eds = edsNameOf(c);
    if (eds !== undefined && !endpointNames.has(eds)) {
      errors.push({ path: `clusters[${i}]`, message: `cluster "${c.name}" needs ClusterLoadAssignment "${eds}", which is missing` });
    }
  });
  const checkRoute = (route: RouteConfiguration, path: string): void => {
    for (const name of clustersReferencedBy(route)) {
      if (!clusterNames.has(name)) {
        errors.push({ path, message: `route configuration "${route.name}" references cluster "${name}", which is missing` });
      }
    }
  };
  resources.listeners.forEach((l, i) => {
    for (const hcm of connectionManagersOf(l)) {
      const spec = hcm.routeSpecifier;
      if (spec?.$case === "rds" && !routeNames.has(spec.value.routeConfigName)) {
        errors.push({
          path: `listeners[${i}]`,
          message: `listener "${l.name}" needs RouteConfiguration "${spec.value.routeConfigName}", which is missing`,
        });
      } else if (spec?.$case === "routeConfig") {
        checkRoute(spec.value, `listeners[${i}]`);
      }
    }
  });
  resources.routes.forEach((r, i) => checkRoute(r, `routes[${i}]`));
  return errors;
}

/**
 * Encodes and checks a node's resources. Throws PilotfishError SNAPSHOT_INCONSISTENT (details name
 * every dangling reference and duplicate) rather than returning a snapshot a client would choke on.
 */
export function buildSnapshot(resources: XdsResources, changedAt: number): Snapshot {
  const errors = checkConsistency(resources);
  const types = new Map<TypeUrl, TypeSnapshot>([
    [TypeUrl.CLUSTER, encodeType(TypeUrl.CLUSTER, resources.clusters, (c) => c.name, (c) => Cluster.encode(c).finish(), errors, "clusters")],
    [
      TypeUrl.ENDPOINT,
      encodeType(TypeUrl.ENDPOINT, resources.endpoints, (e) => e.clusterName, (e) => ClusterLoadAssignment.encode(e).finish(), errors, "endpoints"),
    ],
    [TypeUrl.LISTENER, encodeType(TypeUrl.LISTENER, resources.listeners, (l) => l.name, (l) => Listener.encode(l).finish(), errors, "listeners")],
    [TypeUrl.ROUTE, encodeType(TypeUrl.ROUTE, resources.routes, (r) => r.name, (r) => RouteConfiguration.encode(r).finish(), errors, "routes")],
  ]);
  if (errors.length > 0) {
    throw new PilotfishError(
      ErrorCode.SNAPSHOT_INCONSISTENT,
      `inconsistent snapshot: ${errors.map((e) => e.message).join("; ")}`,
      errors,
    );
  }
  return { types, changedAt };
}

/** An empty snapshot: what a node gets before any mesh was loaded. */
export function emptySnapshot(changedAt = 0): Snapshot {
  return buildSnapshot({ clusters: [], endpoints: [], listeners: [], routes: [] }, changedAt);
}

/** The versions of a snapshot per type, in push order (for logs and /nodes). */
export function snapshotVersions(s: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of PUSH_ORDER) out[t] = s.types.get(t)?.version ?? "";
  return out;
}

/** True when both snapshots carry the same content for every type. */
export function sameContent(a: Snapshot, b: Snapshot): boolean {
  return PUSH_ORDER.every((t) => a.types.get(t)?.version === b.types.get(t)?.version);
}
