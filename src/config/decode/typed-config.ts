/** Type URLs Pilotfish understands inside `typed_config` / `typed_extension_protocol_options`. */
export const TYPE_URLS = {
  httpConnectionManager:
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  upstreamHttpProtocolOptions: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  downstreamTlsContext: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  upstreamTlsContext: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  fileAccessLog: "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
  stdoutAccessLog: "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
  stderrAccessLog: "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
  rbac: "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
  rbacPerRoute: "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
  localRateLimit: "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
  filterConfig: "type.googleapis.com/envoy.config.route.v3.FilterConfig",
  caresDnsResolver: "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
} as const;

/** Key of the upstream HttpProtocolOptions entry in Cluster.typed_extension_protocol_options. */
export const UPSTREAM_HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/** Envoy's canonical router filter name, used when http_filters is empty. */
export const ROUTER_FILTER_NAME = "envoy.filters.http.router";

/** Decodes an Any's bytes; malformed bytes (possible over xDS) become an error instead of a throw. */
export function unpack<T>(
  fns: { decode(input: Uint8Array): T },
  value: Uint8Array,
  path: string,
  errors: { add(path: string, message: string): void },
): T | undefined {
  try {
    return fns.decode(value);
  } catch (err) {
    errors.add(path, `malformed message: ${(err as Error).message}`);
    return undefined;
  }
}
