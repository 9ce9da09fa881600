/**
 * A listener of mesh.yaml → a Listener (LDS), in the form the node needs: a socket listener with one
 * filter chain holding the HTTP connection manager (sidecars, Envoy), or an `api_listener` carrying
 * the same connection manager and no address (proxyless gRPC clients, which dial `xds:///<name>`).
 * Either way routes come by RDS over ADS and the router is the one and last HTTP filter.
 */
import { SocketAddress_Protocol } from "../../gen/envoy/config/core/v3/address.js";
import { Listener } from "../../gen/envoy/config/listener/v3/listener.js";
import { Router } from "../../gen/envoy/extensions/filters/http/router/v3/router.js";
import {
  HttpConnectionManager,
  type HttpFilter,
} from "../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { MeshListener, MeshMtls } from "./mesh-model.js";
import { downstreamTransportSocket } from "./translate-tls.js";
import { adsConfigSource, EmbeddedType, ExtensionName, pack } from "./xds-builders.js";

/** The connection manager both listener forms carry. */
function connectionManagerFor(l: MeshListener, policyFilters: readonly HttpFilter[]): HttpConnectionManager {
  return HttpConnectionManager.fromPartial({
    statPrefix: l.name,
    routeSpecifier: { $case: "rds", value: { configSource: adsConfigSource(), routeConfigName: l.route } },
    httpFilters: [
      ...policyFilters,
      {
        name: ExtensionName.ROUTER,
        typedConfig: pack(EmbeddedType.ROUTER, Router, Router.fromPartial({})),
      },
    ],
  });
}

/**
 * The Listener for one mesh listener, as a socket listener or (proxyless) an api_listener.
 * `policyFilters` (translate-policy.ts) go before the router; proxyless clients get none. An
 * `inbound` one terminates mTLS when `mtls` (strict) is given.
 */
export function listenerFor(l: MeshListener, proxyless: boolean, policyFilters: readonly HttpFilter[] = [], mtls?: MeshMtls): Listener {
  const hcm = pack(EmbeddedType.HCM, HttpConnectionManager, connectionManagerFor(l, proxyless ? [] : policyFilters));
  if (proxyless) {
    return Listener.fromPartial({ name: l.name, apiListener: { apiListener: hcm } });
  }
  return Listener.fromPartial({
    name: l.name,
    address: {
      address: {
        $case: "socketAddress",
        value: {
          protocol: SocketAddress_Protocol.TCP,
          address: l.address.host,
          portSpecifier: { $case: "portValue", value: l.address.port },
        },
      },
    },
    filterChains: [
      {
        filters: [{ name: ExtensionName.HCM, typedConfig: hcm }],
        transportSocket: l.inbound === true && mtls !== undefined ? downstreamTransportSocket(mtls) : undefined,
      },
    ],
  });
}

/**
 * The listeners a node gets. A listener without `nodes` is for every node; one with `nodes.cluster`
 * for nodes of those clusters. A node that no listener selects by its cluster gets every listener
 * (issue 3): a new service, or a proxyless client with no cluster, still finds the mesh's listeners.
 */
export function selectListeners(listeners: readonly MeshListener[], nodeCluster: string): MeshListener[] {
  const selected = listeners.filter((l) => l.nodeClusters?.includes(nodeCluster) === true);
  if (selected.length === 0) return [...listeners];
  return listeners.filter((l) => l.nodeClusters === undefined || l.nodeClusters.includes(nodeCluster));
}
