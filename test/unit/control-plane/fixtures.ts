/**
 * Hand-built xDS resources for control-plane tests, shaped like the mesh translator's output: an EDS
 * cluster over ADS with load_balancing_policy [least_request, round_robin] (grpc-js-xds has no
 * least_request and falls through to round_robin), a locality with a weight, and a listener whose
 * HttpConnectionManager gets its routes over RDS/ADS and ends with the router.
 */
import { Cluster, Cluster_DiscoveryType } from "../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../../../src/gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../src/gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../src/gen/envoy/config/route/v3/route.js";
import { HttpConnectionManager } from "../../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { XdsResources } from "../../../src/control-plane/xds-resources.js";

const T = "type.googleapis.com/";
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;
const LEAST_REQUEST = `${T}envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest`;
const ROUND_ROBIN = `${T}envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin`;
const ADS = { configSourceSpecifier: { $case: "ads" as const, value: {} } };

/** What one test mesh holds. */
export interface FixtureSpec {
  /** Listener name (also what proxyless clients dial: xds:///<listener>). Default "echo". */
  readonly listener?: string;
  /** RouteConfiguration name. Default "echo-route". */
  readonly route?: string;
  /** Cluster (and ClusterLoadAssignment) name. Default "echo". */
  readonly cluster?: string;
  /** Backend ports on 127.0.0.1. */
  readonly ports: readonly number[];
  /** Leave the ClusterLoadAssignment out (an inconsistent snapshot). */
  readonly omitEndpoints?: boolean;
  /** Leave the RouteConfiguration out (an inconsistent snapshot). */
  readonly omitRoute?: boolean;
}

export function buildResources(spec: FixtureSpec): XdsResources {
  const listenerName = spec.listener ?? "echo";
  const routeName = spec.route ?? "echo-route";
  const clusterName = spec.cluster ?? "echo";
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: listenerName,
    routeSpecifier: { $case: "rds", value: { configSource: ADS, routeConfigName: routeName } },
    httpFilters: [{ name: "envoy.filters.http.router", typedConfig: { typeUrl: ROUTER, value: Buffer.alloc(0) } }],
  });
  const hcmAny = { typeUrl: HCM, value: Buffer.from(HttpConnectionManager.encode(hcm).finish()) };
  const listener = Listener.fromPartial({ name: listenerName, apiListener: { apiListener: hcmAny } });
  const route = RouteConfiguration.fromPartial({
    name: routeName,
    virtualHosts: [
      {
        name: "vh",
        domains: ["*"],
        routes: [{ match: { pathSpecifier: { $case: "prefix", value: "" } }, action: { $case: "route", value: { clusterSpecifier: { $case: "cluster", value: clusterName } } } }],
      },
    ],
  });
  const cluster = Cluster.fromPartial({
    name: clusterName,
    type: Cluster_DiscoveryType.EDS,
    edsClusterConfig: { edsConfig: ADS, serviceName: clusterName },
    loadBalancingPolicy: {
      policies: [
        { typedExtensionConfig: { name: "least_request", typedConfig: { typeUrl: LEAST_REQUEST, value: Buffer.alloc(0) } } },
        { typedExtensionConfig: { name: "round_robin", typedConfig: { typeUrl: ROUND_ROBIN, value: Buffer.alloc(0) } } },
      ],
    },
  });
  const cla = ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: [
      {
        locality: { zone: "z1" },
        loadBalancingWeight: 1,
        lbEndpoints: spec.ports.map((port) => ({
          endpoint: { address: { address: { $case: "socketAddress", value: { address: "127.0.0.1", portSpecifier: { $case: "portValue", value: port } } } } },
          loadBalancingWeight: 1,
        })),
      },
    ],
  });
  return {
    clusters: [cluster],
    endpoints: spec.omitEndpoints === true ? [] : [cla],
    listeners: [listener],
    routes: spec.omitRoute === true ? [] : [route],
  };
}
