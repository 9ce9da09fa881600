/**
 * What the translator hands the snapshot cache for one node: complete, consistent xDS resources as
 * ts-proto messages (src/gen). The control plane is, with config/decode, the only code that touches
 * generated types.
 */
import type { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import type { ClusterLoadAssignment } from "../gen/envoy/config/endpoint/v3/endpoint.js";
import type { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";

/** Every resource one node should have. */
export interface XdsResources {
  /** CDS: one per upstream (type EDS, endpoints via ADS). */
  readonly clusters: readonly Cluster[];
  /** EDS: one per EDS cluster, named as the cluster's service_name (or name). */
  readonly endpoints: readonly ClusterLoadAssignment[];
  /** LDS: listeners for this node; HCM with `rds` over ADS (sidecars) or api_listener (proxyless). */
  readonly listeners: readonly Listener[];
  /** RDS: route configurations referenced by the listeners. */
  readonly routes: readonly RouteConfiguration[];
}

/** The identity of a node as the translator needs it. */
export interface NodeIdentity {
  /** Envoy node.id. */
  readonly id: string;
  /** Envoy node.cluster (selects listeners via `nodes: {cluster}` in mesh.yaml). */
  readonly cluster: string;
  /**
   * A proxyless gRPC client (grpc-js-xds and friends: user_agent_name starting with "gRPC"): its
   * listeners are `api_listener`s named as the dial target, rather than socket listeners.
   */
  readonly proxyless: boolean;
}
