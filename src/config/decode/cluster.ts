/**
 * Cluster decoding (a static cluster or one CDS resource): STATIC with an inline load_assignment, EDS
 * with endpoints over ADS, or STRICT_DNS / LOGICAL_DNS whose load_assignment names hosts to resolve.
 * Defaults are Envoy's.
 */
import { RoutingPriority } from "../../gen/envoy/config/core/v3/base.js";
import {
  type Cluster,
  Cluster_DiscoveryType as DiscoveryType,
  Cluster_LbPolicy as PbLbPolicy,
} from "../../gen/envoy/config/cluster/v3/cluster.js";
import type { CircuitBreakers } from "../../gen/envoy/config/cluster/v3/circuit_breaker.js";
import type { CircuitBreakerConfig, ClusterConfig, LbPolicy, LeastRequestConfig, LocalityEndpointsConfig } from "../model.js";
import { decodeDnsConfig } from "./cluster-dns.js";
import { decodeUpstreamProtocol } from "./cluster-protocol.js";
import { boundedUint, durationMs, percent } from "./common.js";
import { decodeClusterLoadAssignment } from "./endpoint.js";
import { decodeHealthChecks } from "./health-check.js";
import { decodeOutlierDetection } from "./outlier-detection.js";
import { decodeLoadBalancingPolicy } from "./load-balancing-policy.js";
import { decodeUpstreamTls } from "./upstream-tls.js";
import { at, type Errors, idx, notSupported, show, unsupportedValue } from "./field-errors.js";

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_HEALTHY_PANIC_THRESHOLD = 50;
export const DEFAULT_CIRCUIT_BREAKERS: CircuitBreakerConfig = {
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
};

const LB_POLICIES: readonly LbPolicy[] = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"];
const CLUSTER_TYPES: readonly ClusterConfig["type"][] = ["STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS"];

function clusterType(t: DiscoveryType): ClusterConfig["type"] | undefined {
  const name = DiscoveryType[t];
  return (CLUSTER_TYPES as readonly (string | undefined)[]).includes(name) ? (name as ClusterConfig["type"]) : undefined;
}

/** Envoy: a LOGICAL_DNS cluster has exactly one locality with exactly one endpoint (its one logical host). */
function checkLogicalDnsEndpoints(localities: readonly LocalityEndpointsConfig[], path: string, errors: Errors): void {
  const n = localities.reduce((sum, l) => sum + l.endpoints.length, 0);
  if (localities.length !== 1 || n !== 1) {
    errors.add(at(path, "endpoints"), `a LOGICAL_DNS cluster needs exactly one locality with one lb_endpoint; got ${localities.length} localities, ${n} endpoints`);
  }
}

export function decodeCluster(c: Cluster, path: string, errors: Errors): ClusterConfig {
  if (c.name === "") errors.add(at(path, "name"), "required");
  const isEds = c.type === DiscoveryType.EDS;
  const type = clusterType(c.type);
  if (type === undefined) errors.add(at(path, "type"), unsupportedValue(DiscoveryType[c.type] ?? c.type, CLUSTER_TYPES));
  const isDns = type === "STRICT_DNS" || type === "LOGICAL_DNS";
  if (c.edsClusterConfig !== undefined && !isEds) errors.add(at(path, "eds_cluster_config"), "only valid with type EDS");
  const edsSource = c.edsClusterConfig?.edsConfig?.configSourceSpecifier?.$case;
  if (isEds && edsSource !== "ads") {
    errors.add(at(path, "eds_cluster_config.eds_config"), `must be {ads: {}} (endpoints come over ADS); got ${show(edsSource ?? "nothing")}`);
  }
  const tls = decodeUpstreamTls(c.transportSocket, at(path, "transport_socket"), errors);
  const connectTimeoutMs = durationMs(c.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS);
  if (connectTimeoutMs <= 0) errors.add(at(path, "connect_timeout"), "must be greater than 0");
  const lbName = PbLbPolicy[c.lbPolicy] ?? String(c.lbPolicy);
  const lbPolicy: LbPolicy = (LB_POLICIES as readonly string[]).includes(lbName) ? (lbName as LbPolicy) : "ROUND_ROBIN";
  if (lbPolicy !== lbName) errors.add(at(path, "lb_policy"), unsupportedValue(lbName, LB_POLICIES));
  if (c.loadAssignment === undefined && !isEds) errors.add(at(path, "load_assignment"), `required for a ${type ?? "STATIC"} cluster`);
  const endpoints = c.loadAssignment ? decodeClusterLoadAssignment(c.loadAssignment, at(path, "load_assignment"), errors, isDns) : [];
  if (type === "LOGICAL_DNS") checkLogicalDnsEndpoints(endpoints, at(path, "load_assignment"), errors);
  const dns = isDns ? decodeDnsConfig(c, path, errors) : undefined;
  const upstream = decodeUpstreamProtocol(c, path, errors);
  const outlierDetection = decodeOutlierDetection(c.outlierDetection, at(path, "outlier_detection"), errors);
  const healthChecks = decodeHealthChecks(c.healthChecks, at(path, "health_checks"), errors);
  const lbp = decodeLoadBalancingPolicy(c.loadBalancingPolicy, at(path, "load_balancing_policy"), errors);
  return {
    name: c.name,
    type: type ?? "STATIC",
    ...(isEds ? { edsServiceName: c.edsClusterConfig?.serviceName || c.name } : {}),
    ...(dns === undefined ? {} : { dns }),
    connectTimeoutMs,
    // load_balancing_policy, when set, wins over lb_policy (as in Envoy).
    lbPolicy: lbp?.policy ?? lbPolicy,
    leastRequest: lbp?.leastRequest ?? decodeLeastRequest(c, at(path, "least_request_lb_config"), errors),
    healthyPanicThreshold: percent(
      c.commonLbConfig?.healthyPanicThreshold,
      at(path, "common_lb_config.healthy_panic_threshold"),
      errors,
      DEFAULT_HEALTHY_PANIC_THRESHOLD,
    ),
    endpoints,
    protocol: upstream.protocol,
    http2: upstream.http2,
    idleTimeoutMs: upstream.idleTimeoutMs,
    circuitBreakers: decodeCircuitBreakers(c.circuitBreakers, at(path, "circuit_breakers"), errors),
    // Present only when configured, so a cluster without them compares equal to one built before they existed.
    ...(outlierDetection === undefined ? {} : { outlierDetection }),
    ...(healthChecks.length === 0 ? {} : { healthChecks }),
    ...(c.commonLbConfig?.ignoreNewHostsUntilFirstHc === true ? { ignoreNewHostsUntilFirstHc: true } : {}),
    ...(tls === undefined ? {} : { tls }),
  };
}

function decodeLeastRequest(c: Cluster, path: string, errors: Errors): LeastRequestConfig {
  const lr = c.leastRequestLbConfig;
  const bias = lr?.activeRequestBias;
  if (bias !== undefined && bias.runtimeKey !== "") errors.add(at(path, "active_request_bias.runtime_key"), notSupported());
  const activeRequestBias = bias?.defaultValue ?? 1.0;
  if (!(activeRequestBias >= 0)) errors.add(at(path, "active_request_bias.default_value"), `${show(activeRequestBias)} must be >= 0`);
  return {
    // Envoy requires at least 2 choices: with one, "least request" is just random.
    choiceCount: boundedUint(lr?.choiceCount, at(path, "choice_count"), errors, 2, 2),
    activeRequestBias,
  };
}

/**
 * Thresholds for DEFAULT priority. HIGH thresholds are accepted and unused: routes cannot select HIGH
 * (route priority other than DEFAULT is rejected), so no request is ever counted against them.
 */
function decodeCircuitBreakers(cb: CircuitBreakers | undefined, path: string, errors: Errors): CircuitBreakerConfig {
  let result = DEFAULT_CIRCUIT_BREAKERS;
  const seen = new Set<RoutingPriority>();
  (cb?.thresholds ?? []).forEach((t, i) => {
    const p = idx(at(path, "thresholds"), i);
    if (seen.has(t.priority)) errors.add(at(p, "priority"), `duplicate thresholds for priority ${RoutingPriority[t.priority]}`);
    seen.add(t.priority);
    if (t.trackRemaining) errors.add(at(p, "track_remaining"), notSupported());
    if (t.priority !== RoutingPriority.DEFAULT) return;
    const d = DEFAULT_CIRCUIT_BREAKERS;
    result = {
      maxConnections: boundedUint(t.maxConnections, at(p, "max_connections"), errors, d.maxConnections, 0),
      maxPendingRequests: boundedUint(t.maxPendingRequests, at(p, "max_pending_requests"), errors, d.maxPendingRequests, 0),
      maxRequests: boundedUint(t.maxRequests, at(p, "max_requests"), errors, d.maxRequests, 0),
      maxRetries: boundedUint(t.maxRetries, at(p, "max_retries"), errors, d.maxRetries, 0),
    };
  });
  return result;
}
