/**
 * EndpointSlices (+ their Service) → the endpoints of one upstream. Pure: the watchers keep the objects,
 * this reads them whenever any of them changes.
 *
 * Port: mesh.yaml names the Service's port (by name or number), as a Kubernetes client would. The slice
 * carries the pod-side port (the resolved targetPort) under the same name as the Service port, so the
 * Service port's name selects the slice port, as kube-proxy does.
 *
 * Conditions (nil ready/serving mean true, nil terminating means false, as the API documents):
 * - ready → healthy (a terminating endpoint is never ready unless the Service publishes not-ready ones);
 * - terminating and serving → draining: no new requests, in-flight ones finish (Envoy's DRAINING);
 * - terminating and not serving → left out: the sidecar closes its connections gracefully;
 * - not ready and not terminating (starting up, failing readiness) → unhealthy.
 */
import type { V1EndpointConditions, V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import type { DiscoveredEndpoint } from "./discovered-endpoints.js";

/** The slice port name `port` refers to, or undefined when the Service has no such port. */
export function slicePortName(service: V1Service | undefined, port: string | number): string | undefined {
  const ports = service?.spec?.ports ?? [];
  if (typeof port === "number") {
    const p = ports.find((sp) => sp.port === port && (sp.protocol ?? "TCP") === "TCP");
    return p === undefined ? undefined : (p.name ?? "");
  }
  // By name the slices alone suffice (their port names are the Service's), even before the Service is seen.
  if (service === undefined) return port;
  return ports.some((sp) => sp.name === port && (sp.protocol ?? "TCP") === "TCP") ? port : undefined;
}

const RANK: Record<DiscoveredEndpoint["status"], number> = { healthy: 0, draining: 1, unhealthy: 2 };

/** Every endpoint of `slices` serving `port` of `service`, sorted by address, one per ip:port. */
export function endpointsFromSlices(
  service: V1Service | undefined,
  slices: Iterable<V1EndpointSlice>,
  port: string | number,
): DiscoveredEndpoint[] {
  const name = slicePortName(service, port);
  if (name === undefined) return [];
  const byKey = new Map<string, DiscoveredEndpoint>();
  for (const slice of slices) {
    // FQDN slices name hosts; xDS endpoints need IP literals.
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? "") === name && (p.protocol ?? "TCP") === "TCP");
    if (sp?.port === undefined) continue;
    for (const e of slice.endpoints ?? []) {
      const status = statusOf(e.conditions);
      if (status === undefined) continue;
      const zone = e.zone ?? (e.hints?.forZones?.length === 1 ? e.hints.forZones[0].name : "");
      // Kubernetes guarantees one address per endpoint today; the list is for a future dual-stack.
      for (const ip of e.addresses ?? []) {
        const key = `${ip}\0${sp.port}`;
        const seen = byKey.get(key);
        if (seen === undefined || RANK[status] < RANK[seen.status]) byKey.set(key, { ip, port: sp.port, zone, status });
      }
    }
  }
  return [...byKey.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
}

function statusOf(c: V1EndpointConditions | undefined): DiscoveredEndpoint["status"] | undefined {
  // Ready wins: with publishNotReadyAddresses a terminating pod may still be marked ready on purpose.
  if (c?.ready ?? true) return "healthy";
  if (c?.terminating ?? false) return (c?.serving ?? true) ? "draining" : undefined;
  return "unhealthy";
}
