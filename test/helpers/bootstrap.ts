/**
 * Builds Envoy v3 bootstrap documents (the subset Pilotfish supports) for the integration tests.
 * `bootstrapObject` returns a plain object a test may tweak; `bootstrapYaml` renders it as YAML.
 */
import { stringify } from "yaml";
import { ECHO_PATH_PREFIX } from "./echo-proto.js";

export interface RouteSpec {
  /** Path prefix to match (default "/"). */
  prefix?: string;
  /** Exact path to match instead of a prefix. */
  path?: string;
  cluster: string;
  /** Route timeout, proto3 JSON duration ("0.3s"); omitted = Envoy's default. */
  timeout?: string;
  retryPolicy?: { retryOn: string; numRetries?: number; perTryTimeout?: string };
}

export interface ListenerSpec {
  name: string;
  /** Default 0 (an OS port, reported on the ready line). */
  port?: number;
  /** Default: the listener name. */
  statPrefix?: string;
  /** Default: one route sending the Echo service to cluster "echo". */
  routes?: RouteSpec[];
  /** HCM stream_idle_timeout ("5s"). */
  streamIdleTimeout?: string;
  domains?: string[];
}

export interface ClusterSpec {
  name: string;
  /** Upstream ports on 127.0.0.1 (or full host/port pairs). */
  endpoints: Array<number | { host: string; port: number }>;
  /** Speak HTTP/2 (h2c) upstream: default true. */
  http2?: boolean;
  connectTimeout?: string;
  lbPolicy?: string;
}

export interface BootstrapSpec {
  listeners: ListenerSpec[];
  clusters: ClusterSpec[];
  /** Admin port: default 0; null leaves out the admin section. */
  adminPort?: number | null;
  nodeId?: string;
}

const HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const HTTP_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socket_address: { address, port_value: port } };
}

export function routeObject(r: RouteSpec): Record<string, unknown> {
  const match: Record<string, unknown> = r.path !== undefined ? { path: r.path } : { prefix: r.prefix ?? "/" };
  const route: Record<string, unknown> = { cluster: r.cluster };
  if (r.timeout !== undefined) route.timeout = r.timeout;
  if (r.retryPolicy) {
    const rp: Record<string, unknown> = { retry_on: r.retryPolicy.retryOn };
    if (r.retryPolicy.numRetries !== undefined) rp.num_retries = r.retryPolicy.numRetries;
    if (r.retryPolicy.perTryTimeout !== undefined) rp.per_try_timeout = r.retryPolicy.perTryTimeout;
    route.retry_policy = rp;
  }
  return { match, route };
}

export function listenerObject(l: ListenerSpec): Record<string, unknown> {
  const routes = l.routes ?? [{ prefix: ECHO_PATH_PREFIX, cluster: "echo" }];
  const hcm: Record<string, unknown> = {
    "@type": HCM_TYPE,
    stat_prefix: l.statPrefix ?? l.name,
    route_config: {
      name: `${l.name}_routes`,
      virtual_hosts: [{ name: "all", domains: l.domains ?? ["*"], routes: routes.map(routeObject) }],
    },
    http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER_TYPE } }],
  };
  if (l.streamIdleTimeout !== undefined) hcm.stream_idle_timeout = l.streamIdleTimeout;
  return {
    name: l.name,
    address: socketAddress("127.0.0.1", l.port ?? 0),
    filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
  };
}

export function clusterObject(c: ClusterSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: c.name,
    type: "STATIC",
    connect_timeout: c.connectTimeout ?? "1s",
  };
  if (c.lbPolicy !== undefined) out.lb_policy = c.lbPolicy;
  if (c.http2 ?? true) {
    out.typed_extension_protocol_options = {
      [HTTP_OPTIONS_KEY]: { "@type": HTTP_OPTIONS_TYPE, explicit_http_config: { http2_protocol_options: {} } },
    };
  }
  out.load_assignment = {
    cluster_name: c.name,
    endpoints: [
      {
        lb_endpoints: c.endpoints.map((e) => {
          const { host, port } = typeof e === "number" ? { host: "127.0.0.1", port: e } : e;
          return { endpoint: { address: socketAddress(host, port) } };
        }),
      },
    ],
  };
  return out;
}

export function bootstrapObject(spec: BootstrapSpec): Record<string, unknown> {
  const doc: Record<string, unknown> = { node: { id: spec.nodeId ?? "test", cluster: "test" } };
  if (spec.adminPort !== null) doc.admin = { address: socketAddress("127.0.0.1", spec.adminPort ?? 0) };
  doc.static_resources = {
    listeners: spec.listeners.map(listenerObject),
    clusters: spec.clusters.map(clusterObject),
  };
  return doc;
}

export function bootstrapYaml(spec: BootstrapSpec): string {
  return stringify(bootstrapObject(spec));
}

/**
 * The most common shape: one listener "outbound" routing the Echo service to cluster "echo" at the given
 * upstream ports.
 */
export function echoBootstrap(
  upstreamPorts: number[],
  extra: { listener?: Partial<ListenerSpec>; cluster?: Partial<ClusterSpec> } = {},
): string {
  return bootstrapYaml({
    listeners: [{ name: "outbound", ...extra.listener }],
    clusters: [{ name: "echo", endpoints: upstreamPorts, ...extra.cluster }],
  });
}
