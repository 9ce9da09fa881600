/**
 * RouteConfiguration decoding (inline in a connection manager, or one RDS resource). Cluster names are
 * not resolved here: over RDS a route may name a cluster CDS has not delivered yet; the bootstrap
 * decoder cross-checks names against its static clusters.
 */
import type { RouteConfiguration } from "../../gen/envoy/config/route/v3/route.js";
import type { Route, RouteMatch, VirtualHost } from "../../gen/envoy/config/route/v3/route_components.js";
import type { PerFilterConfig } from "../policy-model.js";
import type { PathMatch, RouteConfig, RouteEntryConfig, RouteMatchConfig, VirtualHostConfig } from "../model.js";
import { decodeHeaderMutations } from "./common.js";
import { at, type Errors, idx, notSupported, show } from "./field-errors.js";
import { compileRegex, decodeHeaderMatcher } from "./matchers.js";
import { decodeTypedPerFilterConfig } from "./policy-filters.js";
import { decodeDirectResponse, decodeRouteAction } from "./route-action.js";
import { decodeRetryPolicy } from "./retry-policy.js";

export function decodeRouteConfiguration(rc: RouteConfiguration, path: string, errors: Errors): RouteConfig {
  if (rc.validateClusters === false) {
    errors.add(at(path, "validate_clusters"), notSupported("false (pilotfish always validates static clusters)"));
  }
  const seenDomains = new Map<string, string>();
  const seenNames = new Set<string>();
  const virtualHosts = rc.virtualHosts.map((vh, i) => {
    const p = idx(at(path, "virtual_hosts"), i);
    if (vh.name !== "" && seenNames.has(vh.name)) errors.add(at(p, "name"), `duplicate virtual host name ${show(vh.name)}`);
    seenNames.add(vh.name);
    return decodeVirtualHost(vh, p, errors, seenDomains);
  });
  return { name: rc.name, virtualHosts, headers: decodeHeaderMutations(rc, path, errors) };
}

function decodeVirtualHost(
  vh: VirtualHost,
  path: string,
  errors: Errors,
  seenDomains: Map<string, string>,
): VirtualHostConfig {
  if (vh.name === "") errors.add(at(path, "name"), "required");
  if (vh.domains.length === 0) errors.add(at(path, "domains"), "at least one domain is required");
  const domains = vh.domains.map((d, i) => {
    const p = idx(at(path, "domains"), i);
    const domain = d.toLowerCase();
    checkDomain(domain, p, errors);
    // Envoy rejects a domain that appears in two virtual hosts: which one wins would be arbitrary.
    const owner = seenDomains.get(domain);
    if (owner !== undefined) errors.add(p, `domain ${show(d)} is already used by virtual host ${show(owner)}`);
    seenDomains.set(domain, vh.name);
    return domain;
  });
  return {
    name: vh.name,
    domains,
    routes: vh.routes.map((r, i) => decodeRoute(r, idx(at(path, "routes"), i), errors)),
    retryPolicy: vh.retryPolicy && decodeRetryPolicy(vh.retryPolicy, at(path, "retry_policy"), errors),
    headers: decodeHeaderMutations(vh, path, errors),
    ...perFilter(vh.typedPerFilterConfig, path, errors),
  };
}

/** Exact, `*`, `*suffix` or `prefix*`, as Envoy's domain matching supports. */
function checkDomain(domain: string, path: string, errors: Errors): void {
  if (domain === "") errors.add(path, "domain must not be empty");
  else if (domain === "*") return;
  else if (domain.slice(1, -1).includes("*") || (domain.startsWith("*") && domain.endsWith("*"))) {
    errors.add(path, `invalid domain ${show(domain)}: a wildcard may only lead or trail`);
  }
}

function decodeRoute(r: Route, path: string, errors: Errors): RouteEntryConfig {
  const match = decodeRouteMatch(r.match, at(path, "match"), errors);
  let action: RouteEntryConfig["action"];
  switch (r.action?.$case) {
    case "route":
      action = decodeRouteAction(r.action.value, at(path, "route"), errors, match.path.kind);
      break;
    case "directResponse":
      action = decodeDirectResponse(r.action.value, at(path, "direct_response"), errors);
      break;
    case undefined:
      errors.add(at(path, "route"), "one of route, direct_response is required");
      action = { kind: "direct", status: 404, body: undefined };
  }
  return { name: r.name, match, action, headers: decodeHeaderMutations(r, path, errors), ...perFilter(r.typedPerFilterConfig, path, errors) };
}

function decodeRouteMatch(m: RouteMatch | undefined, path: string, errors: Errors): RouteMatchConfig {
  let pathMatch: PathMatch = { kind: "prefix", value: "/" };
  const spec = m?.pathSpecifier;
  switch (spec?.$case) {
    case undefined:
      errors.add(at(path, "prefix"), "one of prefix, path, safe_regex is required");
      break;
    case "prefix":
      // An empty prefix matches everything, as in Envoy.
      if (spec.value !== "" && !spec.value.startsWith("/")) errors.add(at(path, "prefix"), `${show(spec.value)} must start with "/"`);
      pathMatch = { kind: "prefix", value: spec.value };
      break;
    case "path":
      if (!spec.value.startsWith("/")) errors.add(at(path, "path"), `${show(spec.value)} must start with "/"`);
      pathMatch = { kind: "path", value: spec.value };
      break;
    case "safeRegex":
      pathMatch = { kind: "regex", regex: compileRegex(spec.value, at(path, "safe_regex"), errors) };
      break;
  }
  return {
    path: pathMatch,
    caseSensitive: m?.caseSensitive ?? true,
    headers: (m?.headers ?? []).map((h, i) => decodeHeaderMatcher(h, idx(at(path, "headers"), i), errors)),
    grpcOnly: m?.grpc !== undefined,
  };
}

/** The `typedPerFilterConfig` property, present only when the map is not empty (config_dump stays as it was). */
function perFilter(map: Route["typedPerFilterConfig"], path: string, errors: Errors): { typedPerFilterConfig?: Readonly<Record<string, PerFilterConfig>> } {
  const typedPerFilterConfig = decodeTypedPerFilterConfig(map, path, errors);
  return typedPerFilterConfig === undefined ? {} : { typedPerFilterConfig };
}
