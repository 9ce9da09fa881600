/**
 * From schema-checked mesh.yaml to the MeshConfig model: every default is applied here, in one place.
 * Where mesh.yaml's default differs from Envoy's, MESH_DEFAULTS says why (and docs/mesh-config.md
 * repeats it): Envoy's meaning is kept for Envoy's fields, only the starting values are friendlier.
 */
import type {
  MeshConfig,
  MeshDiscovery,
  MeshHealthCheck,
  MeshLeastRequest,
  MeshListener,
  MeshMtls,
  MeshOutlierDetection,
  MeshPathMatch,
  MeshProtocol,
  MeshRetry,
  MeshRoute,
  MeshRule,
  MeshUpstream,
} from "./mesh-model.js";
import { buildPolicy, buildRateLimit } from "./mesh-build-policy.js";
import type { RawListener, RawMesh, RawRoute, RawRule, RawUpstream } from "./mesh-schema.js";

/** Defaults of mesh.yaml keys (ms for durations). */
export const MESH_DEFAULTS = {
  protocol: "grpc" as MeshProtocol,
  balance: "least_request" as const,
  /** P2C, as Envoy. */
  choiceCount: 2,
  /** Envoy says 5 s; inside a mesh a connect takes well under a millisecond, so a dead pod should fail over fast. */
  connectTimeoutMs: 1_000,
  /**
   * Route timeout for gRPC upstreams: none. Envoy's 15 s cuts every long-lived stream (envoy#17697);
   * gRPC callers carry their own deadline (grpc-timeout), which the sidecar honours.
   */
  grpcTimeoutMs: 0,
  /** Route timeout for http2/https upstreams: Envoy's 15 s. */
  httpTimeoutMs: 15_000,
  retries: 0,
  /** Envoy's dns_refresh_rate default. */
  dnsRefreshRateMs: 5_000,
  /** kubectl's namespace when none is given. */
  kubernetesNamespace: "default",
  /**
   * Istio's default retry conditions: the attempt never reached the application (connect failure,
   * refused stream), or the server said so itself (UNAVAILABLE, CANCELLED, HTTP 503). Not `5xx` or
   * `reset`: a reset or a 500 may come after the application acted, and a retry would repeat it.
   * Not `deadline-exceeded` or `resource-exhausted`: retrying those adds load to a struggling host.
   */
  retryOn: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
  retriableStatusCodes: [503],
  healthCheck: {
    intervalMs: 5_000,
    timeoutMs: 1_000,
    unhealthyThreshold: 2,
    healthyThreshold: 1,
  },
} as const;

/**
 * Outlier detection is ON for every upstream unless `outlierDetection: {enabled: false}` (Envoy: off
 * unless configured): least request without ejection sends more traffic to a host that fails fast.
 * Values are Envoy's except `alwaysEjectOneHost`: with Envoy's default false and 10 %, a cluster of
 * fewer than 10 hosts never ejects anything (envoy#3263, #34666).
 */
export const OUTLIER_DEFAULTS: MeshOutlierDetection = {
  consecutive5xx: 5,
  consecutiveGatewayFailure: 5,
  consecutiveLocalOriginFailure: 5,
  splitExternalLocalOriginErrors: false,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: undefined,
  maxEjectionTimeJitterMs: 0,
  maxEjectionPercent: 10,
  alwaysEjectOneHost: true,
  enforcingConsecutive5xx: 100,
  enforcingConsecutiveGatewayFailure: 0,
  enforcingConsecutiveLocalOriginFailure: 100,
  enforcingSuccessRate: 100,
  enforcingLocalOriginSuccessRate: 100,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  enforcingFailurePercentageLocalOrigin: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
  successfulActiveHealthCheckUnejectHost: true,
};

/** Builds the model; the input has passed the schema and the reference checks. */
export function buildMesh(raw: RawMesh): MeshConfig {
  return {
    upstreams: (raw.upstreams ?? []).map(buildUpstream),
    routes: (raw.routes ?? []).map((r) => buildRoute(r, raw.upstreams ?? [])),
    listeners: (raw.listeners ?? []).map(buildListener),
    ...(raw.policies === undefined ? {} : { policies: raw.policies.map(buildPolicy) }),
    ...(raw.mtls?.mode === "strict" ? { mtls: buildMtls(raw.mtls) } : {}),
  };
}

type RetryKeys = Pick<RawUpstream, "retries" | "retryOn" | "retriableStatusCodes" | "perTryTimeout">;

function buildRetry(keys: RetryKeys, base: MeshRetry): MeshRetry {
  return {
    retries: keys.retries ?? base.retries,
    retryOn: keys.retryOn ?? base.retryOn,
    retriableStatusCodes: keys.retriableStatusCodes ?? base.retriableStatusCodes,
    perTryTimeoutMs: keys.perTryTimeout ?? base.perTryTimeoutMs,
  };
}

const DEFAULT_RETRY: MeshRetry = {
  retries: MESH_DEFAULTS.retries,
  retryOn: MESH_DEFAULTS.retryOn,
  retriableStatusCodes: MESH_DEFAULTS.retriableStatusCodes,
  perTryTimeoutMs: undefined,
};

function buildUpstream(u: RawUpstream): MeshUpstream {
  const protocol = u.protocol ?? MESH_DEFAULTS.protocol;
  const balance = (u.balance ?? MESH_DEFAULTS.balance).replace("-", "_") as MeshUpstream["balance"];
  return {
    name: u.name,
    protocol,
    nodes: (u.nodes ?? []).map((n) => ({ address: n.address, weight: n.weight ?? 1, status: n.status ?? "unknown" })),
    discovery: buildDiscovery(u.discovery),
    balance,
    leastRequest: buildLeastRequest(u.leastRequest),
    connectTimeoutMs: u.connectTimeout ?? MESH_DEFAULTS.connectTimeoutMs,
    timeoutMs: u.timeout ?? (protocol === "grpc" ? MESH_DEFAULTS.grpcTimeoutMs : MESH_DEFAULTS.httpTimeoutMs),
    retry: buildRetry(u, DEFAULT_RETRY),
    outlierDetection: buildOutlier(u.outlierDetection),
    healthCheck: buildHealthCheck(u.healthCheck),
    circuitBreakers: u.circuitBreakers && {
      maxConnections: u.circuitBreakers.maxConnections,
      maxPendingRequests: u.circuitBreakers.maxPendingRequests,
      maxRequests: u.circuitBreakers.maxRequests,
      maxRetries: u.circuitBreakers.maxRetries,
    },
    healthyPanicThreshold: u.healthyPanicThreshold,
    locality: { region: u.locality?.region ?? "", zone: u.locality?.zone ?? "", subZone: u.locality?.subZone ?? "" },
    tls:
      protocol === "https"
        ? {
            sni: u.tls?.sni,
            // Envoy verifies nothing without trusted_ca; an https upstream should be verified, so
            // default to the system bundle (Debian's path, where the image keeps it).
            caFile: u.tls?.caFile ?? SYSTEM_CA_FILE,
            certFile: u.tls?.certFile,
            keyFile: u.tls?.keyFile,
            // What every HTTPS client checks: the certificate names the host we asked for.
            subjectAltNames: u.tls?.subjectAltNames ?? (u.tls?.sni !== undefined ? [u.tls.sni] : undefined),
          }
        : undefined,
    ...(u.rateLimit === undefined ? {} : { rateLimit: buildRateLimit(u.rateLimit) }),
    ...(u.identity !== undefined ? { identity: u.identity } : {}),
  };
}

function buildDiscovery(d: RawUpstream["discovery"]): MeshDiscovery | undefined {
  if (d?.dns) {
    return {
      kind: "dns",
      name: d.dns.name,
      port: d.dns.port,
      refreshRateMs: d.dns.refreshRate ?? MESH_DEFAULTS.dnsRefreshRateMs,
      respectTtl: d.dns.respectTtl ?? false,
      lookupFamily: d.dns.lookupFamily ?? "auto",
    };
  }
  if (d?.kubernetes) {
    const k = d.kubernetes;
    // A quoted number ("8080") means the port number, as kubectl reads it.
    const port = typeof k.port === "string" && /^\d+$/.test(k.port) ? Number(k.port) : k.port;
    return { kind: "kubernetes", service: k.service, namespace: k.namespace ?? MESH_DEFAULTS.kubernetesNamespace, port };
  }
  return undefined;
}

function buildLeastRequest(lr: RawUpstream["leastRequest"]): MeshLeastRequest {
  const ss = lr?.slowStart;
  return {
    choiceCount: lr?.choiceCount ?? MESH_DEFAULTS.choiceCount,
    activeRequestBias: lr?.activeRequestBias,
    slowStart: ss && { windowMs: ss.window, aggression: ss.aggression ?? 1, minWeightPercent: ss.minWeightPercent ?? 10 },
  };
}

function buildOutlier(od: RawUpstream["outlierDetection"]): MeshOutlierDetection | undefined {
  if (od?.enabled === false) return undefined;
  const d = OUTLIER_DEFAULTS;
  const o = od ?? {};
  return {
    consecutive5xx: o.consecutive5xx ?? d.consecutive5xx,
    consecutiveGatewayFailure: o.consecutiveGatewayFailure ?? d.consecutiveGatewayFailure,
    consecutiveLocalOriginFailure: o.consecutiveLocalOriginFailure ?? d.consecutiveLocalOriginFailure,
    splitExternalLocalOriginErrors: o.splitExternalLocalOriginErrors ?? d.splitExternalLocalOriginErrors,
    intervalMs: o.interval ?? d.intervalMs,
    baseEjectionTimeMs: o.baseEjectionTime ?? d.baseEjectionTimeMs,
    maxEjectionTimeMs: o.maxEjectionTime ?? d.maxEjectionTimeMs,
    maxEjectionTimeJitterMs: o.maxEjectionTimeJitter ?? d.maxEjectionTimeJitterMs,
    maxEjectionPercent: o.maxEjectionPercent ?? d.maxEjectionPercent,
    alwaysEjectOneHost: o.alwaysEjectOneHost ?? d.alwaysEjectOneHost,
    enforcingConsecutive5xx: o.enforcingConsecutive5xx ?? d.enforcingConsecutive5xx,
    enforcingConsecutiveGatewayFailure: o.enforcingConsecutiveGatewayFailure ?? d.enforcingConsecutiveGatewayFailure,
    enforcingConsecutiveLocalOriginFailure: o.enforcingConsecutiveLocalOriginFailure ?? d.enforcingConsecutiveLocalOriginFailure,
    enforcingSuccessRate: o.enforcingSuccessRate ?? d.enforcingSuccessRate,
    enforcingLocalOriginSuccessRate: o.enforcingLocalOriginSuccessRate ?? d.enforcingLocalOriginSuccessRate,
    successRateMinimumHosts: o.successRateMinimumHosts ?? d.successRateMinimumHosts,
    successRateRequestVolume: o.successRateRequestVolume ?? d.successRateRequestVolume,
    successRateStdevFactor: o.successRateStdevFactor ?? d.successRateStdevFactor,
    failurePercentageThreshold: o.failurePercentageThreshold ?? d.failurePercentageThreshold,
    enforcingFailurePercentage: o.enforcingFailurePercentage ?? d.enforcingFailurePercentage,
    enforcingFailurePercentageLocalOrigin: o.enforcingFailurePercentageLocalOrigin ?? d.enforcingFailurePercentageLocalOrigin,
    failurePercentageMinimumHosts: o.failurePercentageMinimumHosts ?? d.failurePercentageMinimumHosts,
    failurePercentageRequestVolume: o.failurePercentageRequestVolume ?? d.failurePercentageRequestVolume,
    successfulActiveHealthCheckUnejectHost: o.successfulActiveHealthCheckUnejectHost ?? d.successfulActiveHealthCheckUnejectHost,
  };
}

function buildHealthCheck(hc: RawUpstream["healthCheck"]): MeshHealthCheck | undefined {
  if (hc === undefined) return undefined;
  const d = MESH_DEFAULTS.healthCheck;
  return {
    checker: hc.http
      ? { kind: "http", path: hc.http.path, host: hc.http.host }
      : { kind: "grpc", serviceName: hc.grpc?.serviceName ?? "", authority: hc.grpc?.authority },
    intervalMs: hc.interval ?? d.intervalMs,
    timeoutMs: hc.timeout ?? d.timeoutMs,
    unhealthyThreshold: hc.unhealthyThreshold ?? d.unhealthyThreshold,
    healthyThreshold: hc.healthyThreshold ?? d.healthyThreshold,
    intervalJitterMs: hc.intervalJitter ?? 0,
    noTrafficIntervalMs: hc.noTrafficInterval,
    unhealthyIntervalMs: hc.unhealthyInterval,
  };
}

function buildRoute(r: RawRoute, upstreams: readonly RawUpstream[]): MeshRoute {
  return {
    name: r.name,
    hosts: r.hosts ?? ["*"],
    rules: r.rules.map((rule) => buildRule(rule, upstreams)),
    ...(r.rateLimit === undefined ? {} : { rateLimit: buildRateLimit(r.rateLimit) }),
  };
}

function buildRule(rule: RawRule, upstreams: readonly RawUpstream[]): MeshRule {
  const m = rule.match ?? {};
  const hasRetryKeys =
    rule.retries !== undefined || rule.retryOn !== undefined || rule.retriableStatusCodes !== undefined || rule.perTryTimeout !== undefined;
  const upstream = upstreams.find((u) => u.name === rule.upstream);
  return {
    path: pathMatch(m),
    headers: (m.headers ?? []).map((h) => {
      const [kind, value] = headerKind(h);
      return { name: h.name.toLowerCase(), kind, value, invert: h.invert ?? false };
    }),
    caseSensitive: m.caseSensitive ?? true,
    upstream: rule.upstream,
    timeoutMs: rule.timeout,
    // A rule's retry keys override its upstream's one by one; untouched keys keep the upstream's.
    retry: hasRetryKeys ? buildRetry(rule, buildRetry(upstream ?? {}, DEFAULT_RETRY)) : undefined,
  };
}

function pathMatch(m: NonNullable<RawRule["match"]>): MeshPathMatch {
  if (m.path !== undefined) return { kind: "path", value: m.path };
  if (m.regex !== undefined) return { kind: "regex", value: m.regex };
  if (m.grpcService !== undefined) {
    return m.grpcMethod !== undefined
      ? { kind: "path", value: `/${m.grpcService}/${m.grpcMethod}` }
      : { kind: "prefix", value: `/${m.grpcService}/` };
  }
  return { kind: "prefix", value: m.prefix ?? "/" };
}

type RawHeader = NonNullable<NonNullable<RawRule["match"]>["headers"]>[number];

function headerKind(h: RawHeader): [MeshRule["headers"][number]["kind"], string] {
  if (h.exact !== undefined) return ["exact", h.exact];
  if (h.prefix !== undefined) return ["prefix", h.prefix];
  if (h.suffix !== undefined) return ["suffix", h.suffix];
  if (h.contains !== undefined) return ["contains", h.contains];
  if (h.regex !== undefined) return ["regex", h.regex];
  return ["present", ""];
}

function buildListener(l: RawListener): MeshListener {
  const c = l.nodes?.cluster;
  return {
    name: l.name,
    address: l.address,
    route: l.route,
    nodeClusters: c === undefined ? undefined : typeof c === "string" ? [c] : c,
    ...(l.inbound === true ? { inbound: true } : {}),
  };
}

/** The CA bundle `https` upstreams trust when mesh.yaml names none. */
export const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";

function buildMtls(m: NonNullable<RawMesh["mtls"]>): MeshMtls {
  // mesh-references requires the files under strict.
  return { certFile: m.certFile ?? "", keyFile: m.keyFile ?? "", caFile: m.caFile ?? "", trustDomain: m.trustDomain ?? "cluster.local" };
}
