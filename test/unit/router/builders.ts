/** Small builders for route configuration in router tests: defaults everywhere, overrides by spread. */
import type {
  HeaderMatcherConfig,
  HeaderMutations,
  PathMatch,
  RetryOn,
  RetryPolicyConfig,
  RouteAction,
  RouteConfig,
  RouteEntryConfig,
  VirtualHostConfig,
} from "../../../src/config/model.js";

export const NO_MUTATIONS: HeaderMutations = { requestToAdd: [], requestToRemove: [], responseToAdd: [], responseToRemove: [] };

export function routeAction(overrides: Partial<RouteAction> = {}): RouteAction {
  return {
    kind: "route",
    clusters: [{ name: "backend", weight: 1 }],
    prefixRewrite: undefined,
    hostRewrite: { kind: "pass" },
    timeoutMs: undefined,
    idleTimeoutMs: undefined,
    retryPolicy: undefined,
    maxStreamDuration: { maxStreamDurationMs: undefined, grpcTimeoutHeaderMaxMs: undefined, grpcTimeoutHeaderOffsetMs: 0 },
    ...overrides,
  };
}

export function route(
  name: string,
  path: PathMatch,
  opts: {
    caseSensitive?: boolean;
    headers?: HeaderMatcherConfig[];
    grpcOnly?: boolean;
    action?: RouteEntryConfig["action"];
    mutations?: HeaderMutations;
  } = {},
): RouteEntryConfig {
  return {
    name,
    match: {
      path,
      caseSensitive: opts.caseSensitive ?? true,
      headers: opts.headers ?? [],
      grpcOnly: opts.grpcOnly ?? false,
    },
    action: opts.action ?? routeAction({ clusters: [{ name, weight: 1 }] }),
    headers: opts.mutations ?? NO_MUTATIONS,
  };
}

export function vhost(
  name: string,
  domains: string[],
  routes: RouteEntryConfig[],
  opts: { retryPolicy?: RetryPolicyConfig; mutations?: HeaderMutations } = {},
): VirtualHostConfig {
  return { name, domains, routes, retryPolicy: opts.retryPolicy, headers: opts.mutations ?? NO_MUTATIONS };
}

export function routeConfig(virtualHosts: VirtualHostConfig[], headers: HeaderMutations = NO_MUTATIONS): RouteConfig {
  return { name: "test-routes", virtualHosts, headers };
}

export function header(
  name: string,
  kind: HeaderMatcherConfig["kind"],
  value = "",
  opts: { present?: boolean; invert?: boolean } = {},
): HeaderMatcherConfig {
  return { name, kind, value, present: opts.present ?? true, invert: opts.invert ?? false };
}

export function retryPolicy(retryOn: RetryOn[], overrides: Partial<RetryPolicyConfig> = {}): RetryPolicyConfig {
  return {
    retryOn: new Set(retryOn),
    numRetries: 1,
    perTryTimeoutMs: 0,
    backoffBaseMs: 25,
    backoffMaxMs: 250,
    retriableStatusCodes: new Set(),
    ...overrides,
  };
}

/** Route that matches everything, sending to `cluster`. */
export function catchAll(cluster: string): RouteEntryConfig {
  return route(cluster, { kind: "prefix", value: "/" });
}
