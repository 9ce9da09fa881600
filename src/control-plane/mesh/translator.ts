/**
 * translateMesh: the xDS resources one node should hold, from a validated mesh. Pure and deterministic:
 * no clock, no I/O, no randomness, and every list sorted by resource name, so the same mesh and node
 * give byte-identical resources (the snapshot cache compares bytes to decide what changed) and
 * reordering mesh.yaml changes nothing on the wire.
 *
 * The snapshot is closed under references: the node's listeners, the routes they name, the upstreams
 * those routes send to, and one endpoint set per upstream. Upstreams no selected route uses are left
 * out, so a sidecar does not health-check services it never calls.
 */
import { type DiscoveredEndpoints, NO_DISCOVERED_ENDPOINTS } from "../discovery/discovered-endpoints.js";
import type { NodeIdentity, XdsResources } from "../xds-resources.js";
import type { MeshConfig, MeshUpstream } from "./mesh-model.js";
import { clusterFor, loadAssignmentFor, usesEds } from "./translate-cluster.js";
import { listenerFor, selectListeners } from "./translate-listener.js";
import { policyFiltersFor } from "./translate-policy.js";
import { routeConfigurationFor } from "./translate-route.js";

/** Code-point order: locale-independent, unlike localeCompare. */
function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Every resource `node` should have under `mesh`; `discovered` holds the endpoints of upstreams with
 * `discovery: {kubernetes}` (none found yet = an empty endpoint set).
 */
export function translateMesh(mesh: MeshConfig, node: NodeIdentity, discovered: DiscoveredEndpoints = NO_DISCOVERED_ENDPOINTS): XdsResources {
  const listeners = selectListeners(mesh.listeners, node.cluster).sort(byName);

  const routeNames = new Set(listeners.map((l) => l.route));
  const routes = mesh.routes.filter((r) => routeNames.has(r.name)).sort(byName);

  const upstreamByName = new Map<string, MeshUpstream>(mesh.upstreams.map((u) => [u.name, u]));
  const used = new Set(routes.flatMap((r) => r.rules.map((rule) => rule.upstream)));
  const upstreams = mesh.upstreams.filter((u) => used.has(u.name)).sort(byName);

  // Proxyless gRPC clients have no certificate files of ours: mesh mTLS is for sidecars only.
  const mtls = node.proxyless ? undefined : mesh.mtls;
  return {
    clusters: upstreams.map((u) => clusterFor(u, mtls)),
    // STRICT_DNS clusters carry their load_assignment inline: no EDS resource.
    endpoints: upstreams.filter(usesEds).map((u) => loadAssignmentFor(u, discovered.get(u.name))),
    listeners: listeners.map((l) => listenerFor(l, node.proxyless, node.proxyless ? [] : policyFiltersFor(l, mesh), mtls)),
    routes: routes.map((r) => routeConfigurationFor(r, upstreamByName)),
  };
}
