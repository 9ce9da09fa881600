/** xDS v3 resource type URLs, shared by the discovery server and the sidecar's ADS client. */
export const TypeUrl = {
  LISTENER: "type.googleapis.com/envoy.config.listener.v3.Listener",
  ROUTE: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  CLUSTER: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  ENDPOINT: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
} as const;
export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** Make-before-break push order: clusters, endpoints, listeners, routes. */
export const PUSH_ORDER: readonly TypeUrl[] = [TypeUrl.CLUSTER, TypeUrl.ENDPOINT, TypeUrl.LISTENER, TypeUrl.ROUTE];

/** Short names for logs, stats and /nodes. */
export const TYPE_SHORT: Readonly<Record<TypeUrl, string>> = {
  [TypeUrl.LISTENER]: "lds",
  [TypeUrl.ROUTE]: "rds",
  [TypeUrl.CLUSTER]: "cds",
  [TypeUrl.ENDPOINT]: "eds",
};
