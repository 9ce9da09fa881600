/**
 * mesh.yaml `policies` and `rateLimit` → HTTP filters before the router, in Istio's order:
 * - RBAC `pilotfish.authz.deny` (DENY) with every deny policy governing the listener or its route,
 *   then RBAC `pilotfish.authz.allow` (ALLOW) with every allow policy: a request must match no deny
 *   rule and, when allow policies exist, some allow rule (an allow policy without rules denies all);
 * - local rate limit `pilotfish.ratelimit.route`: the listener's route's bucket;
 * - local rate limit `pilotfish.ratelimit.upstream`: off at the listener; each Envoy Route sending to
 *   an upstream with a `rateLimit` turns it on with that bucket through typed_per_filter_config,
 *   wrapped in an optional FilterConfig so proxyless gRPC clients (which lack the filter) skip it.
 * Each mesh listener serves exactly one route, so a route's policies are applied on the listeners
 * serving it, and both kinds of policy combine instead of one replacing the other.
 */
import { type HeaderMatcher } from "../../gen/envoy/config/route/v3/route_components.js";
import { FilterConfig } from "../../gen/envoy/config/route/v3/route_components.js";
import { type Permission, type Policy, type Principal, RBAC_Action, type RBAC as Rules } from "../../gen/envoy/config/rbac/v3/rbac.js";
import { LocalRateLimit } from "../../gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js";
import { RBAC } from "../../gen/envoy/extensions/filters/http/rbac/v3/rbac.js";
import type { HttpFilter } from "../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { StringMatcher } from "../../gen/envoy/type/matcher/v3/string.js";
import { FractionalPercent_DenominatorType } from "../../gen/envoy/type/v3/percent.js";
import type { Any } from "../../gen/google/protobuf/any.js";
import type { MeshConfig, MeshHeaderMatch, MeshListener, MeshUpstream } from "./mesh-model.js";
import type { MeshAuthorizationRule, MeshPolicy, MeshRateLimit, MeshStringMatch } from "./mesh-policy-model.js";
import { duration, pack } from "./xds-builders.js";

const T = "type.googleapis.com/";
const RBAC_URL = `${T}envoy.extensions.filters.http.rbac.v3.RBAC`;
const LOCAL_RATE_LIMIT_URL = `${T}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`;
const FILTER_CONFIG_URL = `${T}envoy.config.route.v3.FilterConfig`;

/** Names of the filters the translator adds (keys of typed_per_filter_config). */
export const PolicyFilter = {
  DENY: "pilotfish.authz.deny",
  ALLOW: "pilotfish.authz.allow",
  ROUTE_RATE_LIMIT: "pilotfish.ratelimit.route",
  UPSTREAM_RATE_LIMIT: "pilotfish.ratelimit.upstream",
} as const;

/** Envoy's minimum fill interval. */
const MIN_FILL_MS = 50;
const ALL = { defaultValue: { numerator: 100, denominator: FractionalPercent_DenominatorType.HUNDRED }, runtimeKey: "" };

/** The filters to put before the router on a sidecar listener; [] when the mesh asks for none. */
export function policyFiltersFor(l: MeshListener, mesh: MeshConfig): HttpFilter[] {
  const filters: HttpFilter[] = [];
  const governing = (mesh.policies ?? []).filter((p) => p.listeners.includes(l.name) || p.routes.includes(l.route));
  const deny = governing.filter((p) => p.action === "deny");
  const allow = governing.filter((p) => p.action === "allow");
  if (deny.length > 0) filters.push(rbacFilter(PolicyFilter.DENY, RBAC_Action.DENY, deny));
  if (allow.length > 0) filters.push(rbacFilter(PolicyFilter.ALLOW, RBAC_Action.ALLOW, allow));
  const route = mesh.routes.find((r) => r.name === l.route);
  if (route?.rateLimit !== undefined) {
    filters.push(filter(PolicyFilter.ROUTE_RATE_LIMIT, LOCAL_RATE_LIMIT_URL, LocalRateLimit, localRateLimit(`ratelimit.route.${route.name}`, route.rateLimit)));
  }
  const upstreams = new Set(route?.rules.map((r) => r.upstream));
  if (mesh.upstreams.some((u) => upstreams.has(u.name) && u.rateLimit !== undefined)) {
    // Unset filter_enabled is Envoy's 0%: the listener-level instance limits nothing by itself.
    filters.push(filter(PolicyFilter.UPSTREAM_RATE_LIMIT, LOCAL_RATE_LIMIT_URL, LocalRateLimit, LocalRateLimit.fromPartial({ statPrefix: "ratelimit.upstream" })));
  }
  return filters;
}

/** typed_per_filter_config of an Envoy Route sending to `upstream`. */
export function routePolicyConfigFor(upstream: MeshUpstream): { [name: string]: Any } {
  if (upstream.rateLimit === undefined) return {};
  const config = pack(LOCAL_RATE_LIMIT_URL, LocalRateLimit, localRateLimit(`ratelimit.upstream.${upstream.name}`, upstream.rateLimit));
  return {
    [PolicyFilter.UPSTREAM_RATE_LIMIT]: pack(FILTER_CONFIG_URL, FilterConfig, { config, isOptional: true, disabled: false }),
  };
}

/**
 * A bucket of `burst` tokens refilled at `requestsPerSecond`: one token every 1/rps seconds, or (above
 * 20 rps, as Envoy refuses fill intervals under 50 ms) n tokens every n/rps seconds.
 */
export function tokenBucketFor(r: MeshRateLimit): { maxTokens: number; tokensPerFill: number; fillIntervalMs: number } {
  const tokensPerFill = Math.ceil((r.requestsPerSecond * MIN_FILL_MS) / 1000);
  return { maxTokens: r.burst, tokensPerFill, fillIntervalMs: (tokensPerFill * 1000) / r.requestsPerSecond };
}

function localRateLimit(statPrefix: string, r: MeshRateLimit): LocalRateLimit {
  const b = tokenBucketFor(r);
  return LocalRateLimit.fromPartial({
    statPrefix,
    tokenBucket: { maxTokens: b.maxTokens, tokensPerFill: b.tokensPerFill, fillInterval: duration(b.fillIntervalMs) },
    filterEnabled: ALL,
    filterEnforced: ALL,
    // gRPC callers learn they were throttled (HTTP callers get 429 either way).
    rateLimitedAsResourceExhausted: true,
  });
}

interface Encoder<M> {
  encode(message: M): { finish(): Uint8Array };
}

function filter<M>(name: string, url: string, codec: Encoder<M>, message: M): HttpFilter {
  return { name, typedConfig: pack(url, codec, message), isOptional: false, disabled: false };
}

function rbacFilter(name: string, action: RBAC_Action, policies: readonly MeshPolicy[]): HttpFilter {
  const out: { [name: string]: Policy } = {};
  for (const p of policies) p.rules.forEach((rule, i) => (out[`${p.name}.rules[${i}]`] = policyFor(rule)));
  const rules: Rules = { action, policies: out };
  return filter(name, RBAC_URL, RBAC, RBAC.fromPartial({ rules }));
}

function policyFor(rule: MeshAuthorizationRule): Policy {
  const permissions: Permission[] = [];
  if (rule.methods.length > 0) permissions.push(anyOf(rule.methods.map((m) => headerPermission({ name: ":method", kind: "exact", value: m, invert: false }))));
  if (rule.paths.length > 0) permissions.push(anyOf(rule.paths.map((p) => ({ rule: { $case: "urlPath", value: { rule: { $case: "path", value: stringMatcher(p) } } } }))));
  for (const h of rule.headers) permissions.push(headerPermission(h));
  const principals: Principal[] = [];
  if (rule.principals.length > 0) {
    principals.push(anyId(rule.principals.map((m) => ({ identifier: { $case: "authenticated", value: { principalName: stringMatcher(m) } } }))));
  }
  if (rule.sources.length > 0) {
    principals.push(
      anyId(rule.sources.map((c) => ({ identifier: { $case: "remoteIp", value: { addressPrefix: c.address, prefixLen: c.prefixLen } } }))),
    );
  }
  return { permissions: [allOf(permissions)], principals: [allIds(principals)] };
}

function stringMatcher(m: MeshStringMatch): StringMatcher {
  return { matchPattern: { $case: m.kind, value: m.value }, ignoreCase: false };
}

function headerPermission(h: MeshHeaderMatch): Permission {
  return { rule: { $case: "header", value: headerMatcher(h) } };
}

function headerMatcher(h: MeshHeaderMatch): HeaderMatcher {
  const base = { name: h.name, invertMatch: h.invert };
  if (h.kind === "present") return { ...base, headerMatchSpecifier: { $case: "presentMatch", value: true } };
  const pattern: StringMatcher["matchPattern"] =
    h.kind === "regex" ? { $case: "safeRegex", value: { regex: h.value, engineType: undefined } } : { $case: h.kind, value: h.value };
  return { ...base, headerMatchSpecifier: { $case: "stringMatch", value: { matchPattern: pattern, ignoreCase: false } } };
}

const ANY_PERMISSION: Permission = { rule: { $case: "any", value: true } };
const ANY_PRINCIPAL: Principal = { identifier: { $case: "any", value: true } };

/** Single conditions stay unwrapped so resources read like hand-written Envoy config. */
function anyOf(rules: Permission[]): Permission {
  return rules.length === 1 ? rules[0] : { rule: { $case: "orRules", value: { rules } } };
}
function allOf(rules: Permission[]): Permission {
  return rules.length === 0 ? ANY_PERMISSION : rules.length === 1 ? rules[0] : { rule: { $case: "andRules", value: { rules } } };
}
function anyId(ids: Principal[]): Principal {
  return ids.length === 1 ? ids[0] : { identifier: { $case: "orIds", value: { ids } } };
}
function allIds(ids: Principal[]): Principal {
  return ids.length === 0 ? ANY_PRINCIPAL : ids.length === 1 ? ids[0] : { identifier: { $case: "andIds", value: { ids } } };
}
