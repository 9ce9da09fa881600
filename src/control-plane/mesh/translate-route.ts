/**
 * A route of mesh.yaml → one RouteConfiguration (RDS) with one virtual host whose domains are the
 * route's `hosts`, and one Envoy Route per rule, in the order written (first match wins).
 */
import type { RouteConfiguration } from "../../gen/envoy/config/route/v3/route.js";
import type {
  HeaderMatcher,
  RetryPolicy,
  Route,
  RouteAction,
  RouteMatch,
} from "../../gen/envoy/config/route/v3/route_components.js";
import { RouteConfiguration as RouteConfigurationFns } from "../../gen/envoy/config/route/v3/route.js";
import { PreviousHostsPredicate } from "../../gen/envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.js";
import { routePolicyConfigFor } from "./translate-policy.js";
import type { MeshHeaderMatch, MeshRetry, MeshRoute, MeshRule, MeshUpstream } from "./mesh-model.js";
import { duration, EmbeddedType, ExtensionName, optionalDuration, pack } from "./xds-builders.js";

/**
 * How many times a retry may re-pick a host that previous_hosts rejected before settling for it
 * (Istio uses 5): with 2 hosts and P2C, a single re-pick would often land on the tried host again.
 */
export const HOST_SELECTION_RETRY_MAX_ATTEMPTS = 5n;

/** The RouteConfiguration for one mesh route; `upstreams` resolves rule targets (all exist). */
export function routeConfigurationFor(route: MeshRoute, upstreams: ReadonlyMap<string, MeshUpstream>): RouteConfiguration {
  return RouteConfigurationFns.fromPartial({
    name: route.name,
    virtualHosts: [
      {
        name: route.name,
        domains: [...route.hosts],
        routes: route.rules.map((rule, i) => routeFor(route, rule, i, upstreams.get(rule.upstream)!)),
      },
    ],
  });
}

function routeFor(route: MeshRoute, rule: MeshRule, index: number, upstream: MeshUpstream): Route {
  return {
    name: `${route.name}.rules[${index}]`,
    match: matchFor(rule),
    action: { $case: "route", value: actionFor(rule, upstream) },
    requestHeadersToAdd: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
    requestHeadersToRemove: [],
    typedPerFilterConfig: routePolicyConfigFor(upstream),
  };
}

function matchFor(rule: MeshRule): RouteMatch {
  const p = rule.path;
  return {
    pathSpecifier:
      p.kind === "regex" ? { $case: "safeRegex", value: { regex: p.value, engineType: undefined } } : { $case: p.kind, value: p.value },
    // Unset means case-sensitive; only the non-default is written, keeping resources minimal.
    caseSensitive: rule.caseSensitive ? undefined : false,
    headers: rule.headers.map(headerMatcherFor),
    grpc: undefined,
  };
}

/** string_match for value matches (grpc-js-xds and Envoy both read it); present_match for presence. */
function headerMatcherFor(h: MeshHeaderMatch): HeaderMatcher {
  const base = { name: h.name, invertMatch: h.invert };
  switch (h.kind) {
    case "present":
      return { ...base, headerMatchSpecifier: { $case: "presentMatch", value: true } };
    case "regex":
      return {
        ...base,
        headerMatchSpecifier: {
          $case: "stringMatch",
          value: { matchPattern: { $case: "safeRegex", value: { regex: h.value, engineType: undefined } }, ignoreCase: false },
        },
      };
    default:
      return {
        ...base,
        headerMatchSpecifier: { $case: "stringMatch", value: { matchPattern: { $case: h.kind, value: h.value }, ignoreCase: false } },
      };
  }
}

function actionFor(rule: MeshRule, upstream: MeshUpstream): RouteAction {
  const timeoutMs = rule.timeoutMs ?? upstream.timeoutMs;
  const retry = rule.retry ?? upstream.retry;
  return {
    clusterSpecifier: { $case: "cluster", value: upstream.name },
    prefixRewrite: "",
    hostRewriteSpecifier: undefined,
    // Always explicit, 0s included: an unset timeout would be Envoy's 15 s.
    timeout: duration(timeoutMs),
    retryPolicy: retry.retries > 0 ? retryPolicyFor(retry) : undefined,
    priority: 0,
    idleTimeout: undefined,
    // gRPC: the caller's grpc-timeout is honoured, capped by the mesh timeout (0 = uncapped). This is
    // also the only timeout proxyless grpc-js-xds reads, so it caps their deadlines the same way.
    maxStreamDuration:
      upstream.protocol === "grpc"
        ? { maxStreamDuration: undefined, grpcTimeoutHeaderMax: duration(timeoutMs), grpcTimeoutHeaderOffset: undefined }
        : undefined,
  };
}

function retryPolicyFor(r: MeshRetry): RetryPolicy {
  return {
    retryOn: r.retryOn.join(","),
    numRetries: r.retries,
    perTryTimeout: optionalDuration(r.perTryTimeoutMs),
    // "Retried on an endpoint not yet tried" (mesh.yaml's promise), in Envoy's words.
    retryHostPredicate: [
      {
        name: ExtensionName.PREVIOUS_HOSTS,
        configType: { $case: "typedConfig", value: pack(EmbeddedType.PREVIOUS_HOSTS, PreviousHostsPredicate, {}) },
      },
    ],
    hostSelectionRetryMaxAttempts: HOST_SELECTION_RETRY_MAX_ATTEMPTS,
    retriableStatusCodes: r.retryOn.includes("retriable-status-codes") ? [...r.retriableStatusCodes] : [],
    retryBackOff: undefined,
  };
}
