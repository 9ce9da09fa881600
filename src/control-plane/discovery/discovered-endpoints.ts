/**
 * What a discovery source (Kubernetes EndpointSlices today) hands the translator: per upstream, the
 * endpoints it found right now. Plain frozen data, no Kubernetes types, so translation stays a pure
 * function of (mesh, node, discovered endpoints) and the snapshot cache can compare its output bytes.
 */
import type { MeshNodeStatus } from "../mesh/mesh-model.js";

/** One endpoint found by a discovery source. */
export interface DiscoveredEndpoint {
  /** IP literal (IPv6 without brackets). */
  readonly ip: string;
  readonly port: number;
  /** Zone the endpoint runs in ("" = unknown); becomes the EDS locality's zone. */
  readonly zone: string;
  /** EDS health: healthy (ready), draining (terminating but serving), unhealthy (not serving). */
  readonly status: Exclude<MeshNodeStatus, "unknown">;
}

/** Endpoints per upstream name; an upstream absent from the map has none (yet). */
export type DiscoveredEndpoints = ReadonlyMap<string, readonly DiscoveredEndpoint[]>;

/** No discovery source, or nothing found yet. */
export const NO_DISCOVERED_ENDPOINTS: DiscoveredEndpoints = new Map();
