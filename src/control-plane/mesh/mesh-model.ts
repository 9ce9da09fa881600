/**
 * The mesh config domain model: what mesh.yaml means once validated, with every default applied.
 * Values are in the units the translator needs (milliseconds, percents, plain numbers); nothing here
 * is an xDS type, so the validator and the translator can change independently. Instances are
 * deep-frozen by the validator: a MeshConfig can be shared between snapshots without copying.
 */
import type { MeshPolicy, MeshRateLimit } from "./mesh-policy-model.js";

/** A parsed `host:port`. */
export interface HostPort {
  /** IP literal (IPv6 without brackets) or DNS hostname. */
  readonly host: string;
  /** 0..65535; 0 only for listeners (ephemeral port). */
  readonly port: number;
  /** True when `host` is an IPv4 or IPv6 literal (grpc-js-xds and Envoy EDS need literals). */
  readonly isIp: boolean;
}

/** Upstream application protocol. */
export type MeshProtocol = "grpc" | "http2" | "https";

/** Load-balancing algorithm. */
export type MeshBalance = "least_request" | "round_robin" | "random";

/** EDS health status a node can be given by hand (e.g. `draining` before removing it). */
export type MeshNodeStatus = "unknown" | "healthy" | "unhealthy" | "draining";

/** One backend of an upstream (APIPark's `nodes[]`). */
export interface MeshNode {
  /** Where to connect. */
  readonly address: HostPort;
  /** Relative load-balancing weight, >= 1 (LbEndpoint.load_balancing_weight). */
  readonly weight: number;
  /** EDS health status (LbEndpoint.health_status). */
  readonly status: MeshNodeStatus;
}

/** Slow start for new hosts (common.v3.SlowStartConfig). */
export interface MeshSlowStart {
  /** Window during which a new host's weight ramps up, ms. */
  readonly windowMs: number;
  /** Ramp curve exponent; 1 = linear. */
  readonly aggression: number;
  /** Floor of the ramped weight, percent of the full weight. */
  readonly minWeightPercent: number;
}

/** Least-request tuning (LeastRequest extension / least_request_lb_config). */
export interface MeshLeastRequest {
  /** Random hosts sampled per pick (P2C = 2). */
  readonly choiceCount: number;
  /** Exponent of active requests in the weighted formula; undefined = Envoy's 1.0. */
  readonly activeRequestBias: number | undefined;
  /** Slow start, when configured. */
  readonly slowStart: MeshSlowStart | undefined;
}

/**
 * Outlier detection, one member per Envoy OutlierDetection field. Every value is explicit: the
 * validator fills in Envoy's defaults except where docs/mesh-config.md says mesh.yaml differs.
 */
export interface MeshOutlierDetection {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  /** undefined = Envoy's max(300 s, base). */
  readonly maxEjectionTimeMs: number | undefined;
  readonly maxEjectionTimeJitterMs: number;
  readonly maxEjectionPercent: number;
  readonly alwaysEjectOneHost: boolean;
  readonly enforcingConsecutive5xx: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  readonly enforcingConsecutiveLocalOriginFailure: number;
  readonly enforcingSuccessRate: number;
  readonly enforcingLocalOriginSuccessRate: number;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  readonly successRateStdevFactor: number;
  readonly failurePercentageThreshold: number;
  readonly enforcingFailurePercentage: number;
  readonly enforcingFailurePercentageLocalOrigin: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
  readonly successfulActiveHealthCheckUnejectHost: boolean;
}

/** Which protocol an active health check speaks. */
export type MeshHealthChecker =
  | {
      /** grpc.health.v1.Health/Check. */
      readonly kind: "grpc";
      /** `service` of the HealthCheckRequest; "" = the server as a whole. */
      readonly serviceName: string;
      /** :authority of the check; undefined = the cluster name (Envoy). */
      readonly authority: string | undefined;
    }
  | {
      /** HTTP GET expecting 200. */
      readonly kind: "http";
      readonly path: string;
      /** Host header; undefined = the cluster name (Envoy). */
      readonly host: string | undefined;
    };

/** Active health checking (core.v3.HealthCheck). */
export interface MeshHealthCheck {
  readonly checker: MeshHealthChecker;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** Random extra delay added to each interval, ms. */
  readonly intervalJitterMs: number;
  /** Interval while the cluster has seen no traffic; undefined = Envoy's 60 s. */
  readonly noTrafficIntervalMs: number | undefined;
  /** Interval for hosts marked unhealthy; undefined = `intervalMs`. */
  readonly unhealthyIntervalMs: number | undefined;
}

/** Per-cluster limits (CircuitBreakers.thresholds[DEFAULT]); undefined = Envoy's default. */
export interface MeshCircuitBreakers {
  readonly maxConnections: number | undefined;
  readonly maxPendingRequests: number | undefined;
  readonly maxRequests: number | undefined;
  readonly maxRetries: number | undefined;
}

/** Retry behaviour shared by upstream defaults and rule overrides. */
export interface MeshRetry {
  /** Retries after the first attempt; 0 = no retry policy. */
  readonly retries: number;
  /** Envoy `retry_on` conditions, in the order written. */
  readonly retryOn: readonly string[];
  /** HTTP statuses retried under `retriable-status-codes`. */
  readonly retriableStatusCodes: readonly number[];
  /** Per-attempt timeout, ms; undefined = none. */
  readonly perTryTimeoutMs: number | undefined;
}

/** TLS towards an `https` upstream (UpstreamTlsContext). */
export interface MeshUpstreamTls {
  /** SNI; undefined = none sent. */
  readonly sni: string | undefined;
  /** PEM bundle of trusted CAs; undefined = no verification configured. */
  readonly caFile: string | undefined;
  /** Client certificate chain (mTLS), with `keyFile`. */
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** Expected server SANs (URI when it has a scheme, else DNS); empty = chain check only. */
  readonly subjectAltNames?: readonly string[] | undefined;
}

/** Mesh-wide mTLS (`mtls` with mode strict): one certificate set per pod, one CA, one trust domain. */
export interface MeshMtls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Inbound listeners accept client certificates with a URI SAN under `spiffe://<trustDomain>/`. */
  readonly trustDomain: string;
}

/** Locality reported for every endpoint of an upstream. */
export interface MeshLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** Envoy's Cluster.DnsLookupFamily, lower-cased. */
export type MeshDnsLookupFamily = "auto" | "v4_only" | "v6_only" | "v4_preferred" | "all";

/** Where an upstream's nodes come from when mesh.yaml does not list them. */
export type MeshDiscovery =
  | {
      /** A STRICT_DNS cluster: every sidecar resolves `name` itself and uses every address. */
      readonly kind: "dns";
      /** Hostname to resolve. */
      readonly name: string;
      /** Port of every resolved address. */
      readonly port: number;
      /** Re-resolve interval, ms (Envoy's dns_refresh_rate; default 5 s). */
      readonly refreshRateMs: number;
      /** Re-resolve when the answer's TTL expires instead (Envoy's respect_dns_ttl). */
      readonly respectTtl: boolean;
      readonly lookupFamily: MeshDnsLookupFamily;
    }
  | {
      /** EDS endpoints the discovery server reads from the Service's EndpointSlices. */
      readonly kind: "kubernetes";
      readonly service: string;
      readonly namespace: string;
      /** Service port, by name or by number (`port` of the Service, not the pod's targetPort). */
      readonly port: string | number;
    };

/** An upstream: one Cluster and one ClusterLoadAssignment. */
export interface MeshUpstream {
  /** Cluster name and EDS service name; unique. */
  readonly name: string;
  readonly protocol: MeshProtocol;
  /** The listed nodes; empty when `discovery` is set. */
  readonly nodes: readonly MeshNode[];
  /** Where nodes come from instead of `nodes`; undefined = the listed nodes. */
  readonly discovery: MeshDiscovery | undefined;
  readonly balance: MeshBalance;
  readonly leastRequest: MeshLeastRequest;
  readonly connectTimeoutMs: number;
  /** Route timeout for rules sending here, ms; 0 = disabled. */
  readonly timeoutMs: number;
  readonly retry: MeshRetry;
  /** undefined = outlier detection switched off. */
  readonly outlierDetection: MeshOutlierDetection | undefined;
  readonly healthCheck: MeshHealthCheck | undefined;
  readonly circuitBreakers: MeshCircuitBreakers | undefined;
  /** Percent of available hosts below which the balancer ignores health; undefined = Envoy's 50. */
  readonly healthyPanicThreshold: number | undefined;
  readonly locality: MeshLocality;
  /** Set exactly when protocol is `https`. */
  readonly tls: MeshUpstreamTls | undefined;
  /** Requests per second each rule sending here may carry, per sidecar; absent = unlimited. */
  readonly rateLimit?: MeshRateLimit | undefined;
  /** Expected SPIFFE ID of the upstream's sidecars; makes the upstream mesh-internal (mTLS under `mtls`). */
  readonly identity?: string | undefined;
}

/** One header condition of a rule (HeaderMatcher). */
export interface MeshHeaderMatch {
  /** Header name, lower-case. */
  readonly name: string;
  readonly kind: "exact" | "prefix" | "suffix" | "contains" | "regex" | "present";
  /** The operand; "" for `present`. */
  readonly value: string;
  readonly invert: boolean;
}

/** Path condition of a rule (RouteMatch path_specifier). */
export interface MeshPathMatch {
  readonly kind: "prefix" | "path" | "regex";
  readonly value: string;
}

/** One routing rule (Route). */
export interface MeshRule {
  readonly path: MeshPathMatch;
  readonly headers: readonly MeshHeaderMatch[];
  readonly caseSensitive: boolean;
  /** Name of an upstream that exists. */
  readonly upstream: string;
  /** Overrides the upstream's timeout, ms. */
  readonly timeoutMs: number | undefined;
  /** Overrides the upstream's retry behaviour. */
  readonly retry: MeshRetry | undefined;
}

/** A route table: one RouteConfiguration with one virtual host. */
export interface MeshRoute {
  /** RouteConfiguration name; unique. */
  readonly name: string;
  /** Virtual host domains (`*`, `*.suffix`, `prefix.*`, exact). */
  readonly hosts: readonly string[];
  readonly rules: readonly MeshRule[];
  /** Requests per second through this route, per sidecar listener; absent = unlimited. */
  readonly rateLimit?: MeshRateLimit | undefined;
}

/** A listener: an inbound/outbound port on sidecars, a dial target for proxyless clients. */
export interface MeshListener {
  /** Listener name; proxyless clients dial `xds:///<name>`; unique. */
  readonly name: string;
  readonly address: HostPort;
  /** Name of a route that exists. */
  readonly route: string;
  /** node.cluster values that get this listener; undefined = every node. */
  readonly nodeClusters: readonly string[] | undefined;
  /** Takes traffic from other sidecars (terminates mTLS under `mtls`). */
  readonly inbound?: boolean | undefined;
}

/** A validated mesh.yaml. */
export interface MeshConfig {
  readonly upstreams: readonly MeshUpstream[];
  readonly routes: readonly MeshRoute[];
  readonly listeners: readonly MeshListener[];
  /** Authorization policies; absent or empty = everything allowed. */
  readonly policies?: readonly MeshPolicy[] | undefined;
  /** Mesh-wide mTLS; undefined when absent or `mode: disabled`. */
  readonly mtls?: MeshMtls | undefined;
}

/** Freezes a value and everything reachable from it; returns it typed as given. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
