/** ClusterLoadAssignment decoding (a cluster's inline load_assignment or one EDS resource). */
import { HealthStatus } from "../../gen/envoy/config/core/v3/health_check.js";
import type { ClusterLoadAssignment } from "../../gen/envoy/config/endpoint/v3/endpoint.js";
import type { LbEndpoint, LocalityLbEndpoints } from "../../gen/envoy/config/endpoint/v3/endpoint_components.js";
import type { EndpointConfig, EndpointHealthStatus, LocalityEndpointsConfig } from "../model.js";
import { boundedUint, decodeAddress, decodeLocality } from "./common.js";
import { at, type Errors, idx, notSupported } from "./field-errors.js";

const HEALTH: Record<HealthStatus, EndpointHealthStatus> = {
  [HealthStatus.UNKNOWN]: "UNKNOWN",
  [HealthStatus.HEALTHY]: "HEALTHY",
  [HealthStatus.UNHEALTHY]: "UNHEALTHY",
  [HealthStatus.DRAINING]: "DRAINING",
  [HealthStatus.TIMEOUT]: "TIMEOUT",
  [HealthStatus.DEGRADED]: "DEGRADED",
  [HealthStatus.UNRECOGNIZED]: "UNKNOWN",
};

export function decodeClusterLoadAssignment(
  cla: ClusterLoadAssignment,
  path: string,
  errors: Errors,
  /** DNS clusters: endpoint addresses may be host names. */
  allowHostname = false,
): LocalityEndpointsConfig[] {
  if (cla.clusterName === "") errors.add(at(path, "cluster_name"), "required");
  return cla.endpoints.map((l, i) => decodeLocalityEndpoints(l, idx(at(path, "endpoints"), i), errors, allowHostname));
}

function decodeLocalityEndpoints(l: LocalityLbEndpoints, path: string, errors: Errors, allowHostname: boolean): LocalityEndpointsConfig {
  // Priorities need failover between levels, which the host set does not implement yet.
  if (l.priority !== 0) errors.add(at(path, "priority"), notSupported(`priority ${l.priority} (only 0)`));
  return {
    locality: decodeLocality(l.locality),
    weight: boundedUint(l.loadBalancingWeight, at(path, "load_balancing_weight"), errors, 1, 1),
    endpoints: l.lbEndpoints.map((e, i) => decodeLbEndpoint(e, idx(at(path, "lb_endpoints"), i), errors, allowHostname)),
  };
}

function decodeLbEndpoint(e: LbEndpoint, path: string, errors: Errors, allowHostname: boolean): EndpointConfig {
  const p = at(path, "endpoint");
  if (e.endpoint === undefined) errors.add(p, "required");
  return {
    address: decodeAddress(e.endpoint?.address, at(p, "address"), errors, { allowPortZero: false, allowHostname }),
    weight: boundedUint(e.loadBalancingWeight, at(path, "load_balancing_weight"), errors, 1, 1),
    healthStatus: HEALTH[e.healthStatus] ?? "UNKNOWN",
    hostname: e.endpoint?.hostname === "" ? undefined : e.endpoint?.hostname,
  };
}
