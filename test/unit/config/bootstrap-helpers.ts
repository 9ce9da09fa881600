/** Shared fixtures for the bootstrap decoder tests. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/** Parsed YAML that tests mutate freely; typing every nested Envoy field would add nothing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type Doc = Record<string, any>;

export const FIXTURES = fileURLToPath(new URL("../../fixtures/bootstrap/", import.meta.url));

/** A fresh, mutable copy of a fixture as parsed YAML. */
export function fixture(name: string): Doc {
  return parse(readFileSync(`${FIXTURES}${name}`, "utf8")) as Doc;
}

/** The example bootstrap's connection manager, cluster and route, for mutation in tests. */
export function parts(doc: Doc) {
  const listener = doc.static_resources.listeners[0];
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const vhost = hcm.route_config.virtual_hosts[0];
  return { listener, hcm, vhost, route: vhost.routes[0], cluster: doc.static_resources.clusters[0] };
}

export const HCM_PATH = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";
export const ROUTE_PATH = `${HCM_PATH}.route_config.virtual_hosts[0].routes[0]`;
export const CLUSTER_PATH = "static_resources.clusters[0]";
export const ENDPOINT_ADDR = `${CLUSTER_PATH}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address`;

/** True when the value and everything reachable from it is frozen. */
export function isDeeplyFrozen(value: unknown, seen = new Set<unknown>()): boolean {
  if (value === null || typeof value !== "object" || seen.has(value)) return true;
  seen.add(value);
  if (!Object.isFrozen(value)) return false;
  const children = value instanceof Set || value instanceof Map ? [...value.values()] : Object.values(value);
  return children.every((c) => isDeeplyFrozen(c, seen));
}

/** proto3 JSON lowerCamelCase keys, leaving "@type" and map keys (which contain dots) alone. */
export function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.startsWith("@") || k.includes(".") ? k : k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()),
      camelize(v),
    ]),
  );
}
