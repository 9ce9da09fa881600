/**
 * Pilotfish's domain model: what the sidecar runs on once configuration has been parsed.
 *
 * Every object here is produced by config/decode (from a bootstrap file today, from xDS resources later),
 * validated and deep-frozen. Nothing downstream of decode touches generated proto code or raw JSON.
 * Durations are milliseconds; 0 means "disabled" where the field says so.
 */
import type { LocalRateLimitConfig, PerFilterConfig, RbacFilterConfig } from "./policy-model.js";

/** An IP or host name plus a TCP port. */
export interface SocketAddress {
  /** IP literal (v4 or v6) or host name. */
  readonly address: string;
  /** TCP port; 0 asks the OS for a free one (listeners only). */
  readonly port: number;
}

/** The sidecar's identity, sent to the discovery server and shown by the admin server. */
export interface NodeInfo {
  /** Unique id of this sidecar (Envoy `node.id`). */
  readonly id: string;
  /** Service this sidecar belongs to (Envoy `node.cluster`). */
  readonly cluster: string;
  /** Free-form metadata (Envoy `node.metadata`, a Struct). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Where this node runs. */
  readonly locality: Locality;
}

/** Region / zone / sub-zone, as Envoy's core.v3.Locality. */
export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** The admin HTTP server. */
export interface AdminConfig {
  /** Where it listens; should be loopback. */
  readonly address: SocketAddress;
}

/** Everything the sidecar starts with. */
export interface Bootstrap {
  /** This sidecar's identity. */
  readonly node: NodeInfo;
  /** The admin server, absent when the bootstrap has none. */
  readonly admin: AdminConfig | undefined;
  /** Listeners from `static_resources.listeners`. */
  readonly listeners: readonly ListenerConfig[];
  /** Clusters from `static_resources.clusters`. */
  readonly clusters: readonly ClusterConfig[];
  /** `dynamic_resources` (ADS); absent for a static-only bootstrap. Optional so existing literals compile. */
  readonly dynamicResources?: DynamicResourcesConfig | undefined;
}

/** Envoy `dynamic_resources` restricted to ADS: one gRPC stream to a static cluster. */
export interface DynamicResourcesConfig {
  /** Static cluster that points at the discovery server (`ads_config.grpc_services[0].envoy_grpc.cluster_name`). */
  readonly adsClusterName: string;
  /** `ads_config.api_type`: GRPC (state of the world) or DELTA_GRPC. */
  readonly delta: boolean;
  /** Listeners come over ADS (`lds_config: {ads: {}}`). */
  readonly lds: boolean;
  /** Clusters come over ADS (`cds_config: {ads: {}}`). */
  readonly cds: boolean;
  /**
   * `initial_fetch_timeout` (default 15 s, 0 = wait forever): how long the sidecar stays unready
   * (`/ready` 503) waiting for its first clusters and listeners (and their endpoints and routes).
   */
  readonly initialFetchTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------- listeners

/** A downstream listener with one HTTP connection manager. */
export interface ListenerConfig {
  /** Listener name (unique). */
  readonly name: string;
  /** Bind address. */
  readonly address: SocketAddress;
  /** TLS termination; undefined means cleartext (h2c prior knowledge and HTTP/1.1). */
  readonly tls: DownstreamTlsConfig | undefined;
  /** The HTTP connection manager of the listener's only filter chain. */
  readonly hcm: HttpConnectionManagerConfig;
}

/** A DownstreamTlsContext subset. */
export interface DownstreamTlsConfig {
  /** PEM certificate chain file. */
  readonly certificateChainFile: string;
  /** PEM private key file. */
  readonly privateKeyFile: string;
  /** PEM CA bundle used to verify client certificates, if any. */
  readonly trustedCaFile: string | undefined;
  /** Whether a client certificate is required. */
  readonly requireClientCertificate: boolean;
  /** ALPN protocols offered, in preference order (default h2, http/1.1). */
  readonly alpnProtocols: readonly string[];
  /** Client certificate SAN matchers (any one must match); absent or empty means any verified client. */
  readonly sanMatchers?: readonly SanMatcherConfig[] | undefined;
}

/** A SAN type a matcher applies to; ANY is the deprecated `match_subject_alt_names` (every type). */
export type SanType = "URI" | "DNS" | "EMAIL" | "IP_ADDRESS" | "ANY";

/** One subject alternative name matcher (Envoy SubjectAltNameMatcher with its StringMatcher). */
export interface SanMatcherConfig {
  /** Which SANs of the certificate it is tried against. */
  readonly sanType: SanType;
  /** StringMatcher kind; regex values are JS-compatible RE2 sources matched whole. */
  readonly kind: "exact" | "prefix" | "suffix" | "contains" | "regex";
  /** The pattern. */
  readonly value: string;
  /** StringMatcher ignore_case (not applied to regex, as Envoy). */
  readonly ignoreCase: boolean;
}

/** An UpstreamTlsContext subset: how a cluster originates TLS. */
export interface UpstreamTlsConfig {
  /** Client certificate chain for mTLS, if any. */
  readonly certificateChainFile: string | undefined;
  /** Client private key (set exactly when certificateChainFile is). */
  readonly privateKeyFile: string | undefined;
  /** PEM CA bundle the server chain is verified against; absent means no verification (Envoy). */
  readonly trustedCaFile: string | undefined;
  /** SAN matchers the server certificate must satisfy (any one); empty means chain check only. */
  readonly sanMatchers: readonly SanMatcherConfig[];
  /** SNI sent in the ClientHello; empty sends none. */
  readonly sni: string;
  /** ALPN offered; empty means the pool's protocol (h2 or http/1.1). */
  readonly alpnProtocols: readonly string[];
}

/** HttpConnectionManager subset plus the protocol limits we enforce downstream. */
export interface HttpConnectionManagerConfig {
  /** Prefix of this listener's stats. */
  readonly statPrefix: string;
  /** The inline route configuration (empty when routes come over RDS). */
  readonly routeConfig: RouteConfig;
  /** With `rds`: the RouteConfiguration name to subscribe to over ADS; undefined for inline routes. */
  readonly rdsName?: string | undefined;
  /** HTTP filters in order; the last is always the router. */
  readonly httpFilters: readonly HttpFilterConfig[];
  /** Per-stream idle timeout (no bytes either way), ms; 0 disables. Envoy default 5 min. */
  readonly streamIdleTimeoutMs: number;
  /** Time allowed to receive the whole request, ms; 0 disables (Envoy default). */
  readonly requestTimeoutMs: number;
  /** Connection idle timeout (no streams), ms; 0 disables. Envoy default 1 h. */
  readonly idleTimeoutMs: number;
  /** Upper bound on any stream's life, ms; 0 disables. */
  readonly maxStreamDurationMs: number;
  /** Time streams in flight get to finish when draining, ms. Envoy default 5 s. */
  readonly drainTimeoutMs: number;
  /** Whether to generate `x-request-id` when absent. */
  readonly generateRequestId: boolean;
  /** Downstream HTTP/2 limits. */
  readonly http2: Http2Limits;
  /** Maximum number of request headers. Envoy default 100. */
  readonly maxHeadersCount: number;
  /** Maximum request header list size in KiB. Envoy default 60. */
  readonly maxRequestHeadersKb: number;
  /** Envoy `tracing`: absent when the connection manager does not trace. Optional so existing literals compile. */
  readonly tracing?: TracingConfig | undefined;
  /** Envoy `access_log`: absent or empty when the connection manager does not log requests. */
  readonly accessLogs?: readonly AccessLogConfig[] | undefined;
}

/** HttpConnectionManager.tracing sampling, percentages 0..100 (Envoy defaults 100 each). */
export interface TracingConfig {
  /** Sampling of requests carrying `x-client-trace-id`. */
  readonly clientSamplingPercent: number;
  /** Sampling of requests without a trace decision. */
  readonly randomSamplingPercent: number;
  /** Cap applied after the other two. */
  readonly overallSamplingPercent: number;
  /**
   * Envoy `spawn_upstream_span`: a SERVER span per request plus a CLIENT span per upstream attempt.
   * Absent means false (one span per request).
   */
  readonly spawnUpstreamSpan?: boolean | undefined;
}

/** One HttpConnectionManager `access_log` entry (Envoy's file and stdout/stderr loggers). */
export interface AccessLogConfig {
  /** The logger's name as written (e.g. envoy.access_loggers.file). */
  readonly name: string;
  /** Where lines go: a file path, or the process's stdout / stderr. */
  readonly sink: { readonly kind: "file"; readonly path: string } | { readonly kind: "stdout" } | { readonly kind: "stderr" };
}

/** One HTTP filter: the router (always last) or a filter that runs before it (see policy-model.ts). */
export type HttpFilterConfig =
  | {
      /** Filter name as written in config (the key of `typed_per_filter_config` overrides). */
      readonly name: string;
      /** Which filter: the `@type` of its typed_config, mapped to our kinds. */
      readonly kind: "router";
    }
  | { readonly name: string; readonly kind: "rbac"; readonly rbac: RbacFilterConfig }
  | { readonly name: string; readonly kind: "local_ratelimit"; readonly localRateLimit: LocalRateLimitConfig };

/** HTTP/2 settings for one side of the proxy. */
export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE for streams. */
  readonly initialStreamWindowSize: number;
  /** Connection-level window. */
  readonly initialConnectionWindowSize: number;
}

// ---------------------------------------------------------------------------------------------- routes

/** RouteConfiguration: virtual hosts matched by :authority. */
export interface RouteConfig {
  /** Route configuration name. */
  readonly name: string;
  /** Virtual hosts in config order (precedence is decided by the route table). */
  readonly virtualHosts: readonly VirtualHostConfig[];
  /** Header mutations applied to every request / response that this config routes. */
  readonly headers: HeaderMutations;
}

/** Header additions and removals (Envoy `*_headers_to_add` / `*_headers_to_remove`). */
export interface HeaderMutations {
  readonly requestToAdd: readonly HeaderValueOption[];
  readonly requestToRemove: readonly string[];
  readonly responseToAdd: readonly HeaderValueOption[];
  readonly responseToRemove: readonly string[];
}

/** One header to add; `append` false overwrites (Envoy OVERWRITE_IF_EXISTS_OR_ADD). */
export interface HeaderValueOption {
  /** Lower-case header name. */
  readonly name: string;
  readonly value: string;
  /** true: append to existing values; false: overwrite. */
  readonly append: boolean;
}

/** A virtual host. */
export interface VirtualHostConfig {
  readonly name: string;
  /** Domains: exact, `*.suffix`, `prefix.*` or `*`; lower-case. */
  readonly domains: readonly string[];
  /** Routes, matched first to last. */
  readonly routes: readonly RouteEntryConfig[];
  /** Default retry policy for routes without their own. */
  readonly retryPolicy: RetryPolicyConfig | undefined;
  readonly headers: HeaderMutations;
  /** `typed_per_filter_config` by filter name; absent when empty. */
  readonly typedPerFilterConfig?: Readonly<Record<string, PerFilterConfig>> | undefined;
}

/** Path part of a route match. */
export type PathMatch =
  | { readonly kind: "prefix"; readonly value: string }
  | { readonly kind: "path"; readonly value: string }
  | { readonly kind: "regex"; readonly regex: string };

/** Header matcher (Envoy HeaderMatcher subset). */
export interface HeaderMatcherConfig {
  /** Lower-case header name (pseudo-headers such as `:method` allowed). */
  readonly name: string;
  readonly kind: "exact" | "prefix" | "suffix" | "contains" | "regex" | "present";
  /** Value to compare (regex source for `regex`, unused for `present`). */
  readonly value: string;
  /** For `present`: whether the header must be present (true) or absent (false). */
  readonly present: boolean;
  /** Invert the result. */
  readonly invert: boolean;
}

/** A route's match. */
export interface RouteMatchConfig {
  readonly path: PathMatch;
  /** Case sensitivity of prefix/path matching (Envoy default true). */
  readonly caseSensitive: boolean;
  /** All must match. */
  readonly headers: readonly HeaderMatcherConfig[];
  /** `grpc: {}`: only requests with content-type application/grpc*. */
  readonly grpcOnly: boolean;
}

/** One route. */
export interface RouteEntryConfig {
  readonly name: string;
  readonly match: RouteMatchConfig;
  readonly action: RouteAction | DirectResponseAction;
  readonly headers: HeaderMutations;
  /** `typed_per_filter_config` by filter name; absent when empty. */
  readonly typedPerFilterConfig?: Readonly<Record<string, PerFilterConfig>> | undefined;
}

/** A cluster and its weight in `weighted_clusters` (a single `cluster` has weight 1). */
export interface WeightedClusterConfig {
  readonly name: string;
  readonly weight: number;
}

/** How `:authority` is set upstream (APIPark pass_host: pass, node, rewrite). */
export type HostRewrite =
  | { readonly kind: "pass" }
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "endpoint" };

/** Forward to a cluster. */
export interface RouteAction {
  readonly kind: "route";
  /** One or more clusters; weights need not sum to anything in particular. */
  readonly clusters: readonly WeightedClusterConfig[];
  /** Replacement for the matched prefix, if any. */
  readonly prefixRewrite: string | undefined;
  readonly hostRewrite: HostRewrite;
  /**
   * Route timeout, ms, from the end of the request to the end of the response; 0 disables.
   * undefined means unset: 15 s for plain HTTP, none for gRPC (see docs/configuration.md).
   */
  readonly timeoutMs: number | undefined;
  /** Per-route stream idle timeout override, ms; undefined inherits the HCM's. */
  readonly idleTimeoutMs: number | undefined;
  readonly retryPolicy: RetryPolicyConfig | undefined;
  /** `max_stream_duration`. */
  readonly maxStreamDuration: MaxStreamDurationConfig;
}

/** RouteAction.max_stream_duration. */
export interface MaxStreamDurationConfig {
  /** Hard cap, ms; undefined means unset. */
  readonly maxStreamDurationMs: number | undefined;
  /** Cap on the grpc-timeout header, ms; 0 = uncapped; undefined = honour grpc-timeout uncapped. */
  readonly grpcTimeoutHeaderMaxMs: number | undefined;
  /** Subtracted from grpc-timeout, ms. */
  readonly grpcTimeoutHeaderOffsetMs: number;
}

/** Answer locally. */
export interface DirectResponseAction {
  readonly kind: "direct";
  readonly status: number;
  /** Inline body, if any. */
  readonly body: string | undefined;
}

/** Conditions of `retry_on`. */
export type RetryOn =
  | "5xx"
  | "gateway-error"
  | "reset"
  | "connect-failure"
  | "refused-stream"
  | "retriable-status-codes"
  | "retriable-4xx"
  | "cancelled"
  | "deadline-exceeded"
  | "internal"
  | "resource-exhausted"
  | "unavailable";

/** RetryPolicy subset. */
export interface RetryPolicyConfig {
  readonly retryOn: ReadonlySet<RetryOn>;
  /** Default 1. */
  readonly numRetries: number;
  /** Per-attempt timeout, ms; 0 = none. */
  readonly perTryTimeoutMs: number;
  /** Backoff base, ms (Envoy default 25). */
  readonly backoffBaseMs: number;
  /** Backoff cap, ms (Envoy default 10 × base). */
  readonly backoffMaxMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
}

// ---------------------------------------------------------------------------------------------- clusters

/** Load-balancing policies we implement. */
export type LbPolicy = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM";

/** Upstream protocol selection (Envoy HttpProtocolOptions). */
export type UpstreamProtocol = "http1" | "http2" | "downstream";

/** An upstream cluster. */
export interface ClusterConfig {
  readonly name: string;
  /**
   * Discovery type: STATIC (inline load_assignment), EDS (endpoints over ADS), STRICT_DNS (every
   * address of every endpoint hostname is a host) or LOGICAL_DNS (one host per endpoint, connecting
   * to the first address of the latest answer).
   */
  readonly type: "STATIC" | "EDS" | "STRICT_DNS" | "LOGICAL_DNS";
  /** DNS settings; present exactly for STRICT_DNS and LOGICAL_DNS clusters. */
  readonly dns?: DnsConfig | undefined;
  /** EDS: the ClusterLoadAssignment name to subscribe to (service_name, else the cluster name). */
  readonly edsServiceName?: string | undefined;
  readonly connectTimeoutMs: number;
  readonly lbPolicy: LbPolicy;
  readonly leastRequest: LeastRequestConfig;
  /** Percent of healthy hosts under which the cluster balances over all hosts (default 50). */
  readonly healthyPanicThreshold: number;
  /** Endpoints grouped by locality. */
  readonly endpoints: readonly LocalityEndpointsConfig[];
  readonly protocol: UpstreamProtocol;
  /** HTTP/2 upstream settings (used when the protocol is or may be HTTP/2). */
  readonly http2: Http2Limits & {
    /** Keepalive PING interval, ms; 0 disables. */
    readonly keepaliveIntervalMs: number;
    /** Time to wait for the PING ack, ms. */
    readonly keepaliveTimeoutMs: number;
  };
  /** Close an upstream connection after this long without streams, ms; 0 disables. Envoy default 1 h. */
  readonly idleTimeoutMs: number;
  readonly circuitBreakers: CircuitBreakerConfig;
  /** `outlier_detection`; absent means no outlier detection (Envoy). Optional so existing literals compile. */
  readonly outlierDetection?: OutlierDetectionConfig | undefined;
  /** `health_checks` (at most one, as Envoy); empty or absent means no active health checking. */
  readonly healthChecks?: readonly HealthCheckConfig[] | undefined;
  /** `common_lb_config.ignore_new_hosts_until_first_hc`: hosts wait for their first check. Absent = false. */
  readonly ignoreNewHostsUntilFirstHc?: boolean | undefined;
  /** `transport_socket` with an UpstreamTlsContext; absent means cleartext. */
  readonly tls?: UpstreamTlsConfig | undefined;
}

/** Cluster.DnsLookupFamily: which address families a DNS cluster asks for. */
export type DnsLookupFamily = "AUTO" | "V4_ONLY" | "V6_ONLY" | "V4_PREFERRED" | "ALL";

/** How a STRICT_DNS / LOGICAL_DNS cluster resolves its endpoints (durations in ms). */
export interface DnsConfig {
  /** `dns_refresh_rate`: time between resolutions of each hostname. Envoy default 5 s. */
  readonly refreshRateMs: number;
  /** `respect_dns_ttl`: refresh after the answer's smallest TTL instead (refreshRateMs when the TTL is 0). */
  readonly respectDnsTtl: boolean;
  /** `dns_lookup_family` (default AUTO: IPv6, falling back to IPv4). */
  readonly lookupFamily: DnsLookupFamily;
  /**
   * `dns_failure_refresh_rate`: jittered exponential backoff after a failed resolution (max_interval
   * default 10 × base_interval); absent means retry every refreshRateMs (Envoy).
   */
  readonly failureRefresh: { readonly baseMs: number; readonly maxMs: number } | undefined;
  /** `typed_dns_resolver_config` c-ares `resolvers`: DNS servers to query; empty means the system's. */
  readonly resolvers: readonly SocketAddress[];
}

/**
 * OutlierDetection with Envoy's defaults applied (see docs/balancing.md). Percentages are 0..100;
 * durations are ms.
 */
export interface OutlierDetectionConfig {
  /** Consecutive 5xx (all errors unless split mode) before ejection. Default 5. */
  readonly consecutive5xx: number;
  /** Sweep period. Default 10 s. */
  readonly intervalMs: number;
  /** Ejection time unit, multiplied by the host's ejection count. Default 30 s. */
  readonly baseEjectionTimeMs: number;
  /** Cap on ejected hosts, percent of the cluster. Default 10. */
  readonly maxEjectionPercent: number;
  /** Default 100. */
  readonly enforcingConsecutive5xx: number;
  /** Default 100. */
  readonly enforcingSuccessRate: number;
  /** Default 5. */
  readonly successRateMinimumHosts: number;
  /** Default 100. */
  readonly successRateRequestVolume: number;
  /** Divided by 1000. Default 1900. */
  readonly successRateStdevFactor: number;
  /** Consecutive 502/503/504 before ejection. Default 5. */
  readonly consecutiveGatewayFailure: number;
  /** Default 0: detected and counted, never enforced. */
  readonly enforcingConsecutiveGatewayFailure: number;
  /** Default false: local-origin failures are mapped to HTTP codes and counted with upstream ones. */
  readonly splitExternalLocalOriginErrors: boolean;
  /** Split mode only. Default 5. */
  readonly consecutiveLocalOriginFailure: number;
  /** Default 100. */
  readonly enforcingConsecutiveLocalOriginFailure: number;
  /** Default 100. */
  readonly enforcingLocalOriginSuccessRate: number;
  /** Default 85. */
  readonly failurePercentageThreshold: number;
  /** Default 0 (off). */
  readonly enforcingFailurePercentage: number;
  /** Default 0 (off). */
  readonly enforcingFailurePercentageLocalOrigin: number;
  /** Default 5. */
  readonly failurePercentageMinimumHosts: number;
  /** Default 50. */
  readonly failurePercentageRequestVolume: number;
  /** Default max(300 s, base). */
  readonly maxEjectionTimeMs: number;
  /** Default 0. */
  readonly maxEjectionTimeJitterMs: number;
  /** Default true. */
  readonly successfulActiveHealthCheckUnejectHost: boolean;
  /** Default false (Envoy); mesh.yaml sends true. */
  readonly alwaysEjectOneHost: boolean;
}

/** An inclusive-exclusive range of HTTP statuses, as Envoy's Int64Range `[start, end)`. */
export interface StatusRange {
  readonly start: number;
  readonly end: number;
}

/** The checker of one active health check. */
export type HealthCheckerConfig =
  | {
      readonly kind: "grpc";
      /** `grpc.health.v1.HealthCheckRequest.service`; "" asks about the whole server. */
      readonly serviceName: string;
      /** `:authority` of the check; undefined means the cluster name. */
      readonly authority: string | undefined;
      readonly initialMetadata: readonly HeaderValueOption[];
    }
  | {
      readonly kind: "http";
      /** `:authority`; undefined means the cluster name. */
      readonly host: string | undefined;
      readonly path: string;
      /** Statuses that pass; default [200, 201). */
      readonly expectedStatuses: readonly StatusRange[];
      readonly requestHeadersToAdd: readonly HeaderValueOption[];
      readonly requestHeadersToRemove: readonly string[];
    };

/** core.v3.HealthCheck (durations in ms). Envoy has no defaults for interval, timeout and thresholds. */
export interface HealthCheckConfig {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** First check of a host is delayed by up to this much. Default 0. */
  readonly initialJitterMs: number;
  /** Added to each interval: random up to this much. Default 0. */
  readonly intervalJitterMs: number;
  /** Added to each interval: random up to this percent of the interval. Default 0. */
  readonly intervalJitterPercent: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** Keep the checker's connection between checks. Default true. */
  readonly reuseConnection: boolean;
  /** Interval while the cluster has seen no traffic. Default 60 s. */
  readonly noTrafficIntervalMs: number;
  /** Interval for healthy hosts while the cluster has seen no traffic. Default noTrafficIntervalMs. */
  readonly noTrafficHealthyIntervalMs: number;
  /** Interval for unhealthy hosts. Default intervalMs. */
  readonly unhealthyIntervalMs: number;
  /** Interval right after a host becomes unhealthy. Default unhealthyIntervalMs. */
  readonly unhealthyEdgeIntervalMs: number;
  /** Interval right after a host becomes healthy. Default intervalMs. */
  readonly healthyEdgeIntervalMs: number;
  readonly checker: HealthCheckerConfig;
}

/** LeastRequestLbConfig. */
export interface LeastRequestConfig {
  /** Hosts sampled per pick (default 2). */
  readonly choiceCount: number;
  /** Exponent of active requests in the weighted form (default 1.0). */
  readonly activeRequestBias: number;
  /** `slow_start_config` of the LeastRequest policy; absent means off (Envoy). */
  readonly slowStart?: SlowStartConfig | undefined;
}

/** load_balancing_policies.common.v3.SlowStartConfig. */
export interface SlowStartConfig {
  /** How long a new host ramps up, ms. */
  readonly windowMs: number;
  /** Ramp shape: 1 is linear (Envoy default 1.0). */
  readonly aggression: number;
  /** Floor of the ramp, percent of the host's weight (Envoy default 10). */
  readonly minWeightPercent: number;
}

/** Default-priority circuit-breaker thresholds. */
export interface CircuitBreakerConfig {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

/** Endpoints of one locality. */
export interface LocalityEndpointsConfig {
  readonly locality: Locality;
  /** Locality weight (default 1). */
  readonly weight: number;
  readonly endpoints: readonly EndpointConfig[];
}

/** EDS health status values we act on. */
export type EndpointHealthStatus = "UNKNOWN" | "HEALTHY" | "UNHEALTHY" | "DRAINING" | "TIMEOUT" | "DEGRADED";

/** One upstream endpoint. */
export interface EndpointConfig {
  readonly address: SocketAddress;
  /** load_balancing_weight, default 1. */
  readonly weight: number;
  readonly healthStatus: EndpointHealthStatus;
  /** Endpoint hostname, used for host rewrite by endpoint when set. */
  readonly hostname: string | undefined;
}
