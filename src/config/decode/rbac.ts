/**
 * RBAC decoding: envoy.extensions.filters.http.rbac.v3.RBAC (the HTTP filter), RBACPerRoute (its
 * route override) and the envoy.config.rbac.v3 policies inside both. Permission and principal kinds
 * outside our subset (metadata, filter_state, CEL conditions, matcher extensions) are not in proto/:
 * over xDS they arrive as unknown fields, leaving the rule empty, and we reject that rule by path
 * rather than evaluating a policy that lost one of its conditions.
 */
import { isIP } from "node:net";
import type { CidrRange } from "../../gen/envoy/config/core/v3/address.js";
import {
  type Permission,
  type Policy,
  type Principal,
  type RBAC as PbRules,
  RBAC_Action,
} from "../../gen/envoy/config/rbac/v3/rbac.js";
import type { RBAC as PbRbacFilter, RBACPerRoute } from "../../gen/envoy/extensions/filters/http/rbac/v3/rbac.js";
import type { PathMatcher } from "../../gen/envoy/type/matcher/v3/path.js";
import type { StringMatcher } from "../../gen/envoy/type/matcher/v3/string.js";
import type {
  CidrRangeConfig,
  RbacFilterConfig,
  RbacPermission,
  RbacPolicyConfig,
  RbacPrincipal,
  RbacRulesConfig,
  StringMatcherConfig,
} from "../policy-model.js";
import { at, type Errors, idx, notSupported, show, unsupportedValue } from "./field-errors.js";
import { RbacEngine } from "../../filters/rbac/rbac-engine.js";
import { compileRegex, decodeHeaderMatcher } from "./matchers.js";

/** Nesting deeper than this is refused: a hostile or broken control plane must not blow the stack. */
const MAX_DEPTH = 32;

const PERMISSION_KINDS =
  "any, header, url_path, and_rules, or_rules, not_rule, destination_ip, destination_port, destination_port_range, requested_server_name";
const PRINCIPAL_KINDS =
  "any, authenticated, direct_remote_ip, remote_ip, source_ip, header, url_path, and_ids, or_ids, not_id";

/** The RBAC HTTP filter's typed_config. */
export function decodeRbacFilter(r: PbRbacFilter, path: string, errors: Errors): RbacFilterConfig {
  if (r.rulesStatPrefix !== "") errors.add(at(path, "rules_stat_prefix"), notSupported());
  if (r.shadowRulesStatPrefix !== "") errors.add(at(path, "shadow_rules_stat_prefix"), notSupported());
  if (r.trackPerRuleStats) errors.add(at(path, "track_per_rule_stats"), notSupported());
  return {
    rules: r.rules && decodeRbacRules(r.rules, at(path, "rules"), errors),
    shadowRules: r.shadowRules && decodeRbacRules(r.shadowRules, at(path, "shadow_rules"), errors),
  };
}

/** RBACPerRoute: an absent `rbac` disables the filter on the route (Envoy). */
export function decodeRbacPerRoute(r: RBACPerRoute, path: string, errors: Errors): RbacFilterConfig | undefined {
  return r.rbac && decodeRbacFilter(r.rbac, at(path, "rbac"), errors);
}

/** envoy.config.rbac.v3.RBAC. Policies are kept in lexicographic order of name, Envoy's evaluation order. */
export function decodeRbacRules(r: PbRules, path: string, errors: Errors): RbacRulesConfig {
  let action: RbacRulesConfig["action"] = "ALLOW";
  if (r.action === RBAC_Action.DENY) action = "DENY";
  else if (r.action !== RBAC_Action.ALLOW) {
    errors.add(at(path, "action"), unsupportedValue(RBAC_Action[r.action] ?? r.action, ["ALLOW", "DENY"]));
  }
  const names = Object.keys(r.policies).sort();
  const before = errors.count;
  const policies = names.map((name) => decodePolicy(name, r.policies[name], `${at(path, "policies")}[${show(name)}]`, errors));
  const rules: RbacRulesConfig = { action, policies };
  // Compile once here, so that what only the request-time engine would reject is a NACK, not a throw later.
  if (errors.count === before) for (const e of new RbacEngine(rules, `${path}.`).errors) errors.add(e.path, e.message);
  return rules;
}

function decodePolicy(name: string, p: Policy, path: string, errors: Errors): RbacPolicyConfig {
  if (p.permissions.length === 0) errors.add(at(path, "permissions"), "at least one permission is required");
  if (p.principals.length === 0) errors.add(at(path, "principals"), "at least one principal is required");
  return {
    name,
    permissions: p.permissions.map((x, i) => decodePermission(x, idx(at(path, "permissions"), i), errors, 0)),
    principals: p.principals.map((x, i) => decodePrincipal(x, idx(at(path, "principals"), i), errors, 0)),
  };
}

/** Stand-ins for a rejected rule (the resource is NACKed anyway); they never match. */
const NEVER_PERMISSION: RbacPermission = { kind: "not", rule: { kind: "any" } };
const NEVER_PRINCIPAL: RbacPrincipal = { kind: "not", id: { kind: "any" } };

function decodePermission(p: Permission, path: string, errors: Errors, depth: number): RbacPermission {
  if (depth > MAX_DEPTH) {
    errors.add(path, `rules nest deeper than ${MAX_DEPTH} levels`);
    return NEVER_PERMISSION;
  }
  const rule = p.rule;
  switch (rule?.$case) {
    case undefined:
      errors.add(path, `a rule is required; supported by pilotfish: ${PERMISSION_KINDS}`);
      return NEVER_PERMISSION;
    case "any":
      if (!rule.value) errors.add(at(path, "any"), "must be true");
      return { kind: "any" };
    case "andRules":
    case "orRules": {
      const field = rule.$case === "andRules" ? "and_rules" : "or_rules";
      const list = rule.value.rules;
      if (list.length === 0) errors.add(at(path, `${field}.rules`), "at least one rule is required");
      const rules = list.map((x, i) => decodePermission(x, idx(at(path, `${field}.rules`), i), errors, depth + 1));
      return { kind: rule.$case === "andRules" ? "and" : "or", rules };
    }
    case "notRule":
      return { kind: "not", rule: decodePermission(rule.value, at(path, "not_rule"), errors, depth + 1) };
    case "header":
      return { kind: "header", header: decodeHeaderMatcher(rule.value, at(path, "header"), errors) };
    case "urlPath":
      return { kind: "url_path", path: decodePathMatcher(rule.value, at(path, "url_path"), errors) };
    case "destinationIp":
      return { kind: "destination_ip", cidr: decodeCidr(rule.value, at(path, "destination_ip"), errors) };
    case "destinationPort":
      if (rule.value > 65535) errors.add(at(path, "destination_port"), `port ${rule.value} is outside 0..65535`);
      return { kind: "destination_port", port: rule.value };
    case "destinationPortRange": {
      const { start, end } = rule.value;
      if (start < 0 || end > 65536 || start >= end) {
        errors.add(at(path, "destination_port_range"), `[${start}, ${end}) is not a valid port range`);
      }
      return { kind: "destination_port_range", start, end };
    }
    case "requestedServerName":
      return { kind: "requested_server_name", name: decodeStringMatcher(rule.value, at(path, "requested_server_name"), errors) };
  }
}

function decodePrincipal(p: Principal, path: string, errors: Errors, depth: number): RbacPrincipal {
  if (depth > MAX_DEPTH) {
    errors.add(path, `ids nest deeper than ${MAX_DEPTH} levels`);
    return NEVER_PRINCIPAL;
  }
  const id = p.identifier;
  switch (id?.$case) {
    case undefined:
      errors.add(path, `an identifier is required; supported by pilotfish: ${PRINCIPAL_KINDS}`);
      return NEVER_PRINCIPAL;
    case "any":
      if (!id.value) errors.add(at(path, "any"), "must be true");
      return { kind: "any" };
    case "andIds":
    case "orIds": {
      const field = id.$case === "andIds" ? "and_ids" : "or_ids";
      const list = id.value.ids;
      if (list.length === 0) errors.add(at(path, `${field}.ids`), "at least one id is required");
      const ids = list.map((x, i) => decodePrincipal(x, idx(at(path, `${field}.ids`), i), errors, depth + 1));
      return { kind: id.$case === "andIds" ? "and" : "or", ids };
    }
    case "notId":
      return { kind: "not", id: decodePrincipal(id.value, at(path, "not_id"), errors, depth + 1) };
    case "authenticated": {
      const m = id.value.principalName;
      return { kind: "authenticated", name: m && decodeStringMatcher(m, at(path, "authenticated.principal_name"), errors) };
    }
    // Without trusted proxies (xff_num_trusted_hops 0, our only mode) Envoy's remote address is the
    // connection's peer, so the three CIDR principals mean the same here.
    case "sourceIp":
    case "directRemoteIp":
    case "remoteIp": {
      const field = id.$case === "sourceIp" ? "source_ip" : id.$case === "directRemoteIp" ? "direct_remote_ip" : "remote_ip";
      return { kind: "remote_ip", cidr: decodeCidr(id.value, at(path, field), errors) };
    }
    case "header":
      return { kind: "header", header: decodeHeaderMatcher(id.value, at(path, "header"), errors) };
    case "urlPath":
      return { kind: "url_path", path: decodePathMatcher(id.value, at(path, "url_path"), errors) };
  }
}

function decodePathMatcher(m: PathMatcher, path: string, errors: Errors): StringMatcherConfig {
  if (m.rule === undefined) {
    errors.add(at(path, "path"), "required");
    return { kind: "exact", value: "", ignoreCase: false };
  }
  return decodeStringMatcher(m.rule.value, at(path, "path"), errors);
}

/** envoy.type.matcher.v3.StringMatcher. */
export function decodeStringMatcher(m: StringMatcher, path: string, errors: Errors): StringMatcherConfig {
  const mp = m.matchPattern;
  switch (mp?.$case) {
    case undefined:
      errors.add(path, "one of exact, prefix, suffix, contains, safe_regex is required");
      return { kind: "exact", value: "", ignoreCase: false };
    case "safeRegex":
      if (m.ignoreCase) errors.add(at(path, "ignore_case"), "does not apply to safe_regex (use (?i))");
      return { kind: "regex", value: compileRegex(mp.value, at(path, "safe_regex"), errors), ignoreCase: false };
    case "exact":
      return { kind: "exact", value: mp.value, ignoreCase: m.ignoreCase };
    case "prefix":
    case "suffix":
    case "contains":
      if (mp.value === "") errors.add(at(path, mp.$case), "must not be empty");
      return { kind: mp.$case, value: mp.value, ignoreCase: m.ignoreCase };
  }
}

/** envoy.config.core.v3.CidrRange: an IP literal and a prefix length that fits its family. */
export function decodeCidr(c: CidrRange, path: string, errors: Errors): CidrRangeConfig {
  const version = isIP(c.addressPrefix);
  const prefixLen = c.prefixLen ?? 0;
  if (version === 0) {
    errors.add(at(path, "address_prefix"), `${show(c.addressPrefix)} is not an IP address`);
    return { addressPrefix: c.addressPrefix, prefixLen, family: "ipv4" };
  }
  const max = version === 4 ? 32 : 128;
  if (prefixLen > max) errors.add(at(path, "prefix_len"), `${prefixLen} is longer than an IPv${version} address (${max})`);
  return { addressPrefix: c.addressPrefix, prefixLen, family: version === 4 ? "ipv4" : "ipv6" };
}
