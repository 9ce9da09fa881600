/**
 * The shape of mesh.yaml as zod schemas: keys, types, ranges, enums. Strict objects everywhere, so a
 * misspelt key is an error naming it rather than a silently ignored setting. Defaults are NOT applied
 * here (every key is optional where mesh.yaml allows omitting it): mesh-build.ts applies them in one
 * place, next to the comments saying why each differs from Envoy, and cross-field rules live in
 * mesh-references.ts so they can run even when this schema already failed.
 */
import { z } from "zod";
import { RETRY_ON } from "../../config/decode/retry-policy.js";
import { policySchemaOf, rateLimitSchema } from "./mesh-policy-schema.js";
import { duration, intIn, listenerAddress, nodeAddress, percent, positiveDuration, resourceName, show } from "./mesh-primitives.js";

const UINT32_MAX = 4_294_967_295;
const count = intIn(0, UINT32_MAX);

/** Retry keys, accepted on an upstream (its default) and on a route rule (an override). */
const retryKeys = {
  /** Retries after the first attempt. */
  retries: intIn(0, 10).optional(),
  /** Envoy retry_on conditions the sidecar implements. */
  retryOn: z.array(z.enum(RETRY_ON as [string, ...string[]])).min(1).optional(),
  retriableStatusCodes: z.array(intIn(100, 599)).optional(),
  perTryTimeout: positiveDuration.optional(),
};

const node = z.strictObject({
  address: nodeAddress,
  weight: intIn(1, 1_000_000).optional(),
  status: z.enum(["unknown", "healthy", "unhealthy", "draining"]).optional(),
});

const slowStart = z.strictObject({
  window: positiveDuration,
  aggression: z.number().positive().optional(),
  minWeightPercent: percent.optional(),
});

const leastRequest = z.strictObject({
  choiceCount: intIn(2, 100).optional(),
  activeRequestBias: z.number().min(0).optional(),
  slowStart: slowStart.optional(),
});

const outlierDetection = z.strictObject({
  enabled: z.boolean().optional(),
  consecutive5xx: count.optional(),
  consecutiveGatewayFailure: count.optional(),
  consecutiveLocalOriginFailure: count.optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  interval: positiveDuration.optional(),
  baseEjectionTime: positiveDuration.optional(),
  maxEjectionTime: positiveDuration.optional(),
  maxEjectionTimeJitter: duration.optional(),
  maxEjectionPercent: percent.optional(),
  alwaysEjectOneHost: z.boolean().optional(),
  enforcingConsecutive5xx: percent.optional(),
  enforcingConsecutiveGatewayFailure: percent.optional(),
  enforcingConsecutiveLocalOriginFailure: percent.optional(),
  enforcingSuccessRate: percent.optional(),
  enforcingLocalOriginSuccessRate: percent.optional(),
  successRateMinimumHosts: count.optional(),
  successRateRequestVolume: count.optional(),
  successRateStdevFactor: count.optional(),
  failurePercentageThreshold: percent.optional(),
  enforcingFailurePercentage: percent.optional(),
  enforcingFailurePercentageLocalOrigin: percent.optional(),
  failurePercentageMinimumHosts: count.optional(),
  failurePercentageRequestVolume: count.optional(),
  successfulActiveHealthCheckUnejectHost: z.boolean().optional(),
});

const healthCheck = z.strictObject({
  grpc: z.strictObject({ serviceName: z.string().optional(), authority: z.string().min(1).optional() }).optional(),
  http: z.strictObject({ path: z.string().startsWith("/"), host: z.string().min(1).optional() }).optional(),
  interval: positiveDuration.optional(),
  timeout: positiveDuration.optional(),
  unhealthyThreshold: intIn(1, 1000).optional(),
  healthyThreshold: intIn(1, 1000).optional(),
  intervalJitter: duration.optional(),
  noTrafficInterval: positiveDuration.optional(),
  unhealthyInterval: positiveDuration.optional(),
});

const circuitBreakers = z.strictObject({
  maxConnections: count.optional(),
  maxPendingRequests: count.optional(),
  maxRequests: count.optional(),
  maxRetries: count.optional(),
});

const locality = z.strictObject({
  region: z.string().optional(),
  zone: z.string().optional(),
  subZone: z.string().optional(),
});

const tls = z.strictObject({
  sni: z.string().min(1).optional(),
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  /** Names the server certificate must carry: `scheme://...` entries are URI SANs, others DNS SANs. */
  subjectAltNames: z.array(z.string().min(1)).min(1).optional(),
});

/** Mesh-wide mTLS between sidecars: files as mounted in every pod (e.g. a secret volume). */
export const mtlsSchema = z.strictObject({
  mode: z.enum(["strict", "disabled"]),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  caFile: z.string().min(1).optional(),
  trustDomain: z.string().regex(/^[a-z0-9._-]+$/).optional(),
});

/** A DNS-1123 label: what Kubernetes accepts as a namespace, Service or port name. */
const k8sName = z.string().refine((v) => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v), {
  error: (issue) => `${show(issue.input)} is not a Kubernetes name (lower-case letters, digits and "-", at most 63)`,
});

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;

export const DNS_LOOKUP_FAMILIES = ["auto", "v4_only", "v6_only", "v4_preferred", "all"] as const;

const discovery = z.strictObject({
  dns: z
    .strictObject({
      name: z.string().refine((v) => DNS_NAME.test(v), {
        error: (issue) => `${show(issue.input)} is not a DNS name (e.g. echo.default.svc.cluster.local)`,
      }),
      port: intIn(1, 65535),
      refreshRate: positiveDuration.optional(),
      respectTtl: z.boolean().optional(),
      lookupFamily: z.enum(DNS_LOOKUP_FAMILIES).optional(),
    })
    .optional(),
  kubernetes: z
    .strictObject({
      service: k8sName,
      namespace: k8sName.optional(),
      port: z.union([intIn(1, 65535), k8sName]),
    })
    .optional(),
});

/** Balance spellings: ours, plus APIPark's hyphenated ones so pasted upstreams work. */
export const BALANCE_VALUES = ["least_request", "round_robin", "random", "least-request", "round-robin"] as const;

export const upstreamSchema = z.strictObject({
  name: resourceName,
  protocol: z.enum(["grpc", "http2", "https"]).optional(),
  /** Exclusive with `discovery`; mesh-references.ts says so by name. */
  nodes: z.array(node).min(1).optional(),
  discovery: discovery.optional(),
  balance: z.enum(BALANCE_VALUES).optional(),
  leastRequest: leastRequest.optional(),
  connectTimeout: positiveDuration.optional(),
  timeout: duration.optional(),
  ...retryKeys,
  outlierDetection: outlierDetection.optional(),
  healthCheck: healthCheck.optional(),
  circuitBreakers: circuitBreakers.optional(),
  healthyPanicThreshold: percent.optional(),
  locality: locality.optional(),
  tls: tls.optional(),
  rateLimit: rateLimitSchema.optional(),
  /** SPIFFE ID of the workloads behind this upstream (their sidecars' certificate URI SAN); mTLS under `mtls`. */
  identity: z.string().startsWith("spiffe://").optional(),
});

const headerMatch = z.strictObject({
  name: z.string().regex(/^:?[a-z0-9!#$%&'*+.^_`|~-]+$/i),
  exact: z.string().optional(),
  prefix: z.string().min(1).optional(),
  suffix: z.string().min(1).optional(),
  contains: z.string().min(1).optional(),
  regex: z.string().min(1).optional(),
  present: z.literal(true).optional(),
  invert: z.boolean().optional(),
});

const match = z.strictObject({
  prefix: z.string().optional(),
  path: z.string().startsWith("/").optional(),
  regex: z.string().min(1).optional(),
  grpcService: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).optional(),
  grpcMethod: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  headers: z.array(headerMatch).optional(),
  caseSensitive: z.boolean().optional(),
});

const rule = z.strictObject({
  match: match.optional(),
  upstream: resourceName,
  timeout: duration.optional(),
  ...retryKeys,
});

export const routeSchema = z.strictObject({
  name: resourceName,
  hosts: z.array(z.string().min(1)).min(1).optional(),
  rules: z.array(rule).min(1),
  rateLimit: rateLimitSchema.optional(),
});

export const listenerSchema = z.strictObject({
  name: resourceName,
  address: listenerAddress,
  route: resourceName,
  nodes: z.strictObject({ cluster: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]) }).optional(),
  /** Receives traffic from other sidecars: under `mtls: {mode: strict}` it terminates mTLS. */
  inbound: z.boolean().optional(),
});

/** The whole file. Every section may be omitted (an empty mesh is valid and serves nothing). */
export const meshSchema = z.strictObject({
  upstreams: z.array(upstreamSchema).optional(),
  routes: z.array(routeSchema).optional(),
  listeners: z.array(listenerSchema).optional(),
  policies: z.array(policySchemaOf(headerMatch)).optional(),
  mtls: mtlsSchema.optional(),
});

export type RawMesh = z.output<typeof meshSchema>;
export type RawUpstream = z.output<typeof upstreamSchema>;
export type RawRoute = z.output<typeof routeSchema>;
export type RawRule = RawRoute["rules"][number];
export type RawListener = z.output<typeof listenerSchema>;
export type RawPolicy = NonNullable<RawMesh["policies"]>[number];
export type RawRateLimit = z.output<typeof rateLimitSchema>;
