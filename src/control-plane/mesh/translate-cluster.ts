/**
 * An upstream of mesh.yaml → its Cluster (CDS) and ClusterLoadAssignment (EDS).
 *
 * Written for three clients at once: Envoy, the Pilotfish sidecar and proxyless grpc-js-xds. Hence:
 * always EDS over ADS (grpc-js-xds accepts no STATIC clusters); `lb_policy` for clients that only read
 * it, plus `load_balancing_policy` listing least_request then round_robin (grpc-js-xds has no least
 * request and takes the first policy it knows); exactly one locality with weight 1 (grpc-js-xds drops a
 * locality without a weight); endpoint addresses as written (IP literals for grpc-js-xds and Envoy).
 */
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_DnsLookupFamily,
  Cluster_LbPolicy,
  type LoadBalancingPolicy_Policy,
} from "../../gen/envoy/config/cluster/v3/cluster.js";
import { RoutingPriority } from "../../gen/envoy/config/core/v3/base.js";
import type { CircuitBreakers } from "../../gen/envoy/config/cluster/v3/circuit_breaker.js";
import type { OutlierDetection } from "../../gen/envoy/config/cluster/v3/outlier_detection.js";
import { type HealthCheck, HealthStatus } from "../../gen/envoy/config/core/v3/health_check.js";
import { SocketAddress_Protocol } from "../../gen/envoy/config/core/v3/address.js";
import { Http2ProtocolOptions } from "../../gen/envoy/config/core/v3/protocol.js";
import type { ClusterLoadAssignment } from "../../gen/envoy/config/endpoint/v3/endpoint.js";
import type { LbEndpoint } from "../../gen/envoy/config/endpoint/v3/endpoint_components.js";
import type { SlowStartConfig } from "../../gen/envoy/extensions/load_balancing_policies/common/v3/common.js";
import {
  LeastRequest,
  LeastRequest_SelectionMethod,
} from "../../gen/envoy/extensions/load_balancing_policies/least_request/v3/least_request.js";
import { Random } from "../../gen/envoy/extensions/load_balancing_policies/random/v3/random.js";
import { RoundRobin } from "../../gen/envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.js";
import { HttpProtocolOptions } from "../../gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import type { Any } from "../../gen/google/protobuf/any.js";
import type { DiscoveredEndpoint } from "../discovery/discovered-endpoints.js";
import type { MeshBalance, MeshDnsLookupFamily, MeshLeastRequest, MeshMtls, MeshNodeStatus, MeshUpstream } from "./mesh-model.js";
import { upstreamTransportSocket } from "./translate-tls.js";
import { adsConfigSource, duration, EmbeddedType, ExtensionName, optionalDuration, pack } from "./xds-builders.js";

const LB_POLICY: Record<MeshBalance, Cluster_LbPolicy> = {
  least_request: Cluster_LbPolicy.LEAST_REQUEST,
  round_robin: Cluster_LbPolicy.ROUND_ROBIN,
  random: Cluster_LbPolicy.RANDOM,
};

const HEALTH: Record<MeshNodeStatus, HealthStatus> = {
  unknown: HealthStatus.UNKNOWN,
  healthy: HealthStatus.HEALTHY,
  unhealthy: HealthStatus.UNHEALTHY,
  draining: HealthStatus.DRAINING,
};

const LOOKUP_FAMILY: Record<MeshDnsLookupFamily, Cluster_DnsLookupFamily> = {
  auto: Cluster_DnsLookupFamily.AUTO,
  v4_only: Cluster_DnsLookupFamily.V4_ONLY,
  v6_only: Cluster_DnsLookupFamily.V6_ONLY,
  v4_preferred: Cluster_DnsLookupFamily.V4_PREFERRED,
  all: Cluster_DnsLookupFamily.ALL,
};

/** Whether the upstream's endpoints travel over EDS (everything but `discovery: {dns}`). */
export function usesEds(u: MeshUpstream): boolean {
  return u.discovery?.kind !== "dns";
}

/**
 * The Cluster for one upstream; its EDS service name is the upstream name. `discovery: {dns}` gives a
 * STRICT_DNS cluster instead, its hostname in an inline load_assignment: each sidecar resolves it.
 * `mtls` (strict mesh mTLS, sidecars only) secures mesh-internal upstreams.
 */
export function clusterFor(u: MeshUpstream, mtls?: MeshMtls): Cluster {
  const dns = u.discovery?.kind === "dns" ? u.discovery : undefined;
  return {
    name: u.name,
    type: dns ? Cluster_DiscoveryType.STRICT_DNS : Cluster_DiscoveryType.EDS,
    edsClusterConfig: dns ? undefined : { edsConfig: adsConfigSource(), serviceName: u.name },
    dnsRefreshRate: dns ? duration(dns.refreshRateMs) : undefined,
    dnsLookupFamily: dns ? LOOKUP_FAMILY[dns.lookupFamily] : Cluster_DnsLookupFamily.AUTO,
    respectDnsTtl: dns?.respectTtl ?? false,
    connectTimeout: duration(u.connectTimeoutMs),
    lbPolicy: LB_POLICY[u.balance],
    healthChecks: u.healthCheck ? [healthCheckFor(u)] : [],
    circuitBreakers: circuitBreakersFor(u),
    http2ProtocolOptions: undefined,
    outlierDetection: outlierDetectionFor(u),
    transportSocket: upstreamTransportSocket(u, mtls),
    commonLbConfig:
      u.healthyPanicThreshold === undefined
        ? undefined
        : { healthyPanicThreshold: { value: u.healthyPanicThreshold }, ignoreNewHostsUntilFirstHc: false },
    loadAssignment: dns ? dnsLoadAssignment(u.name, dns.name, dns.port, u) : undefined,
    // Every mesh protocol is HTTP/2 (gRPC, h2c, or h2 over TLS): say so explicitly, as Envoy needs.
    typedExtensionProtocolOptions: {
      [ExtensionName.UPSTREAM_HTTP_PROTOCOL_OPTIONS]: pack(EmbeddedType.UPSTREAM_HTTP_PROTOCOL_OPTIONS, HttpProtocolOptions, {
        commonHttpProtocolOptions: undefined,
        upstreamProtocolOptions: {
          $case: "explicitHttpConfig",
          value: { protocolConfig: { $case: "http2ProtocolOptions", value: Http2ProtocolOptions.create() } },
        },
      }),
    },
    leastRequestLbConfig:
      u.balance === "least_request"
        ? {
            choiceCount: u.leastRequest.choiceCount,
            activeRequestBias: biasOf(u.leastRequest),
          }
        : undefined,
    loadBalancingPolicy: { policies: policiesFor(u) },
  };
}

function biasOf(lr: MeshLeastRequest): { defaultValue: number; runtimeKey: string } | undefined {
  return lr.activeRequestBias === undefined ? undefined : { defaultValue: lr.activeRequestBias, runtimeKey: "" };
}

/**
 * load_balancing_policy: the requested policy first, round robin after it as the fallback for clients
 * without it (grpc-js-xds knows neither least_request nor random). Round robin alone for round_robin.
 */
function policiesFor(u: MeshUpstream): LoadBalancingPolicy_Policy[] {
  const slowStart = slowStartFor(u.leastRequest);
  const roundRobin = policy(ExtensionName.ROUND_ROBIN, pack(EmbeddedType.ROUND_ROBIN, RoundRobin, { slowStartConfig: slowStart }));
  switch (u.balance) {
    case "least_request":
      return [
        policy(
          ExtensionName.LEAST_REQUEST,
          pack(EmbeddedType.LEAST_REQUEST, LeastRequest, {
            choiceCount: u.leastRequest.choiceCount,
            activeRequestBias: biasOf(u.leastRequest),
            slowStartConfig: slowStart,
            selectionMethod: LeastRequest_SelectionMethod.N_CHOICES,
          }),
        ),
        roundRobin,
      ];
    case "random":
      return [policy(ExtensionName.RANDOM, pack(EmbeddedType.RANDOM, Random, {})), roundRobin];
    case "round_robin":
      return [roundRobin];
  }
}

function policy(name: string, typedConfig: Any): LoadBalancingPolicy_Policy {
  return { typedExtensionConfig: { name, typedConfig } };
}

function slowStartFor(lr: MeshLeastRequest): SlowStartConfig | undefined {
  const ss = lr.slowStart;
  if (!ss) return undefined;
  return {
    slowStartWindow: duration(ss.windowMs),
    aggression: { defaultValue: ss.aggression, runtimeKey: "" },
    minWeightPercent: { value: ss.minWeightPercent },
  };
}

function outlierDetectionFor(u: MeshUpstream): OutlierDetection | undefined {
  const o = u.outlierDetection;
  if (!o) return undefined;
  return {
    consecutive5xx: o.consecutive5xx,
    interval: duration(o.intervalMs),
    baseEjectionTime: duration(o.baseEjectionTimeMs),
    maxEjectionPercent: o.maxEjectionPercent,
    enforcingConsecutive5xx: o.enforcingConsecutive5xx,
    enforcingSuccessRate: o.enforcingSuccessRate,
    successRateMinimumHosts: o.successRateMinimumHosts,
    successRateRequestVolume: o.successRateRequestVolume,
    successRateStdevFactor: o.successRateStdevFactor,
    consecutiveGatewayFailure: o.consecutiveGatewayFailure,
    enforcingConsecutiveGatewayFailure: o.enforcingConsecutiveGatewayFailure,
    splitExternalLocalOriginErrors: o.splitExternalLocalOriginErrors,
    consecutiveLocalOriginFailure: o.consecutiveLocalOriginFailure,
    enforcingConsecutiveLocalOriginFailure: o.enforcingConsecutiveLocalOriginFailure,
    enforcingLocalOriginSuccessRate: o.enforcingLocalOriginSuccessRate,
    failurePercentageThreshold: o.failurePercentageThreshold,
    enforcingFailurePercentage: o.enforcingFailurePercentage,
    enforcingFailurePercentageLocalOrigin: o.enforcingFailurePercentageLocalOrigin,
    failurePercentageMinimumHosts: o.failurePercentageMinimumHosts,
    failurePercentageRequestVolume: o.failurePercentageRequestVolume,
    maxEjectionTime: optionalDuration(o.maxEjectionTimeMs),
    maxEjectionTimeJitter: duration(o.maxEjectionTimeJitterMs),
    successfulActiveHealthCheckUnejectHost: o.successfulActiveHealthCheckUnejectHost,
    alwaysEjectOneHost: o.alwaysEjectOneHost,
  };
}

function healthCheckFor(u: MeshUpstream): HealthCheck {
  const hc = u.healthCheck!;
  const c = hc.checker;
  return {
    timeout: duration(hc.timeoutMs),
    interval: duration(hc.intervalMs),
    intervalJitter: hc.intervalJitterMs > 0 ? duration(hc.intervalJitterMs) : undefined,
    unhealthyThreshold: hc.unhealthyThreshold,
    healthyThreshold: hc.healthyThreshold,
    reuseConnection: undefined,
    healthChecker:
      c.kind === "grpc"
        ? {
            $case: "grpcHealthCheck",
            value: { serviceName: c.serviceName, authority: c.authority ?? "", initialMetadata: [] },
          }
        : {
            $case: "httpHealthCheck",
            value: { host: c.host ?? "", path: c.path, requestHeadersToAdd: [], requestHeadersToRemove: [], expectedStatuses: [] },
          },
    noTrafficInterval: optionalDuration(hc.noTrafficIntervalMs),
    unhealthyInterval: optionalDuration(hc.unhealthyIntervalMs),
    unhealthyEdgeInterval: undefined,
    healthyEdgeInterval: undefined,
    intervalJitterPercent: 0,
    initialJitter: undefined,
    noTrafficHealthyInterval: undefined,
  };
}

function circuitBreakersFor(u: MeshUpstream): CircuitBreakers | undefined {
  const cb = u.circuitBreakers;
  if (!cb) return undefined;
  return {
    thresholds: [
      {
        priority: RoutingPriority.DEFAULT,
        maxConnections: cb.maxConnections,
        maxPendingRequests: cb.maxPendingRequests,
        maxRequests: cb.maxRequests,
        maxRetries: cb.maxRetries,
        trackRemaining: false,
      },
    ],
  };
}

/**
 * The ClusterLoadAssignment. Listed nodes: one locality (weight 1) holding every node in mesh.yaml
 * order. Discovered endpoints: one locality per zone (sorted), weighted by its endpoint count so that
 * clients balancing localities first (grpc-js-xds) still spread load per endpoint.
 */
export function loadAssignmentFor(u: MeshUpstream, discovered: readonly DiscoveredEndpoint[] = []): ClusterLoadAssignment {
  if (u.discovery?.kind === "kubernetes") return discoveredLoadAssignment(u, discovered);
  return {
    clusterName: u.name,
    endpoints: [
      {
        locality: { region: u.locality.region, zone: u.locality.zone, subZone: u.locality.subZone },
        lbEndpoints: u.nodes.map((n) => lbEndpoint(n.address.host, n.address.port, HEALTH[n.status], n.weight)),
        loadBalancingWeight: 1,
        priority: 0,
      },
    ],
  };
}

function discoveredLoadAssignment(u: MeshUpstream, discovered: readonly DiscoveredEndpoint[]): ClusterLoadAssignment {
  const byZone = new Map<string, DiscoveredEndpoint[]>();
  for (const e of discovered) {
    const zone = e.zone || u.locality.zone;
    const list = byZone.get(zone);
    if (list) list.push(e);
    else byZone.set(zone, [e]);
  }
  const zones = [...byZone.keys()].sort();
  return {
    clusterName: u.name,
    endpoints: zones.map((zone) => {
      const list = byZone.get(zone)!;
      return {
        locality: { region: u.locality.region, zone, subZone: u.locality.subZone },
        lbEndpoints: list.map((e) => lbEndpoint(e.ip, e.port, HEALTH[e.status], 1)),
        loadBalancingWeight: list.length,
        priority: 0,
      };
    }),
  };
}

/** STRICT_DNS: the hostname as the one endpoint's address; the client expands it into hosts. */
function dnsLoadAssignment(name: string, host: string, port: number, u: MeshUpstream): ClusterLoadAssignment {
  return {
    clusterName: name,
    endpoints: [
      {
        locality: { region: u.locality.region, zone: u.locality.zone, subZone: u.locality.subZone },
        lbEndpoints: [lbEndpoint(host, port, HealthStatus.UNKNOWN, 1)],
        loadBalancingWeight: 1,
        priority: 0,
      },
    ],
  };
}

function lbEndpoint(address: string, port: number, healthStatus: HealthStatus, weight: number): LbEndpoint {
  return {
    endpoint: {
      address: {
        address: {
          $case: "socketAddress",
          value: {
            protocol: SocketAddress_Protocol.TCP,
            address,
            portSpecifier: { $case: "portValue", value: port },
            resolverName: "",
            ipv4Compat: false,
          },
        },
      },
      hostname: "",
    },
    healthStatus,
    loadBalancingWeight: weight,
  };
}
