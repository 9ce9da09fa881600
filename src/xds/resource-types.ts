/**
 * ResourceType: how the ADS client turns one xDS resource (an Any's bytes) into a frozen domain object,
 * reusing the bootstrap's per-type decoders so static and dynamic config obey the same rules.
 * Unknown fields from a richer server are skipped by the wire decoder (as gRPC's clients do); a value
 * we cannot honour in a field we know is an error naming the resource and the field.
 */
import { deepFreeze } from "../common/freeze.js";
import { PilotfishError, type FieldError } from "../common/errors.js";
import { RouteTable } from "../router/route-table.js";
import type { ClusterConfig, ListenerConfig, LocalityEndpointsConfig, RouteConfig } from "../config/model.js";
import { decodeCluster } from "../config/decode/cluster.js";
import { decodeClusterLoadAssignment } from "../config/decode/endpoint.js";
import { Errors } from "../config/decode/field-errors.js";
import { decodeListener } from "../config/decode/listener.js";
import { decodeRouteConfiguration } from "../config/decode/route.js";
import { unpack } from "../config/decode/typed-config.js";
import { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";
import { TypeUrl } from "./type-urls.js";

/** Endpoints of one EDS resource. */
export interface EndpointsResource {
  /** ClusterLoadAssignment.cluster_name (the EDS service name). */
  readonly name: string;
  readonly localities: readonly LocalityEndpointsConfig[];
}

/** The decoded value of each type. */
export interface ResourceValues {
  [TypeUrl.LISTENER]: ListenerConfig;
  [TypeUrl.ROUTE]: RouteConfig;
  [TypeUrl.CLUSTER]: ClusterConfig;
  [TypeUrl.ENDPOINT]: EndpointsResource;
}

/** A decoded resource, or the errors that stop it. */
export type DecodedResource<T> =
  | { readonly ok: true; readonly name: string; readonly value: T }
  | { readonly ok: false; readonly name: string; readonly errors: readonly FieldError[] };

/** Decodes one resource of `typeUrl` from its serialized bytes. */
export function decodeResource<U extends TypeUrl>(typeUrl: U, bytes: Uint8Array, index: number): DecodedResource<ResourceValues[U]> {
  const errors = new Errors();
  const placeholder = `resources[${index}]`;
  let name = placeholder;
  let value: unknown;
  switch (typeUrl) {
    case TypeUrl.LISTENER: {
      const m = unpack(Listener, bytes, placeholder, errors);
      if (m) {
        name = m.name || placeholder;
        value = decodeListener(m, `listener ${name}`, errors);
      }
      break;
    }
    case TypeUrl.ROUTE: {
      const m = unpack(RouteConfiguration, bytes, placeholder, errors);
      if (m) {
        name = m.name || placeholder;
        if (m.name === "") errors.add(`route_configuration ${name}.name`, "required");
        const rc = decodeRouteConfiguration(m, `route_configuration ${name}`, errors);
        value = rc;
        // Compiling the table catches what only the whole configuration shows (e.g. a domain twice).
        if (errors.count === 0) {
          try {
            new RouteTable(rc);
          } catch (err) {
            if (PilotfishError.is(err)) for (const e of err.details) errors.add(`route_configuration ${name}.${e.path}`, e.message);
            else errors.add(`route_configuration ${name}`, (err as Error).message);
          }
        }
      }
      break;
    }
    case TypeUrl.CLUSTER: {
      const m = unpack(Cluster, bytes, placeholder, errors);
      if (m) {
        name = m.name || placeholder;
        value = decodeCluster(m, `cluster ${name}`, errors);
      }
      break;
    }
    case TypeUrl.ENDPOINT: {
      const m = unpack(ClusterLoadAssignment, bytes, placeholder, errors);
      if (m) {
        name = m.clusterName || placeholder;
        value = { name: m.clusterName, localities: decodeClusterLoadAssignment(m, `cluster_load_assignment ${name}`, errors) };
      }
      break;
    }
  }
  if (errors.count > 0 || value === undefined) return { ok: false, name, errors: errors.list };
  return { ok: true, name, value: deepFreeze(value) as ResourceValues[U] };
}
