/**
 * The HTTP filters that run before the router (RBAC, local rate limit): their `http_filters` entries
 * and their `typed_per_filter_config` overrides on virtual hosts and routes. Overrides are decoded by
 * `@type`, since a route configuration (RDS) arrives without the listener that names its filters.
 */
import { FilterConfig } from "../../gen/envoy/config/route/v3/route_components.js";
import type { HttpFilter } from "../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { LocalRateLimit } from "../../gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js";
import { RBAC, RBACPerRoute } from "../../gen/envoy/extensions/filters/http/rbac/v3/rbac.js";
import type { Any } from "../../gen/google/protobuf/any.js";
import type { HttpFilterConfig } from "../model.js";
import type { PerFilterConfig } from "../policy-model.js";
import { at, type Errors, notSupported, unsupportedValue } from "./field-errors.js";
import { decodeLocalRateLimit } from "./local-rate-limit.js";
import { decodeRbacFilter, decodeRbacPerRoute } from "./rbac.js";
import { TYPE_URLS, unpack } from "./typed-config.js";

/** `@type`s of the HTTP filters we implement, the router included. */
export const HTTP_FILTER_TYPES: readonly string[] = [TYPE_URLS.rbac, TYPE_URLS.localRateLimit, TYPE_URLS.router];

/** A non-router `http_filters` entry we implement, or undefined when its `@type` is not one of ours. */
export function decodePolicyFilter(f: HttpFilter, path: string, errors: Errors): HttpFilterConfig | undefined {
  const tc = f.typedConfig;
  const p = at(path, "typed_config");
  switch (tc?.typeUrl) {
    case TYPE_URLS.rbac: {
      const r = unpack(RBAC, tc.value, p, errors);
      return r && { name: f.name, kind: "rbac", rbac: decodeRbacFilter(r, p, errors) };
    }
    case TYPE_URLS.localRateLimit: {
      const l = unpack(LocalRateLimit, tc.value, p, errors);
      if (l === undefined) return undefined;
      const config = decodeLocalRateLimit(l, p, errors);
      return { name: f.name, kind: "local_ratelimit", localRateLimit: config };
    }
    default:
      return undefined;
  }
}

/** `typed_per_filter_config` of a virtual host or route; undefined when empty. */
export function decodeTypedPerFilterConfig(
  map: { readonly [name: string]: Any } | undefined,
  path: string,
  errors: Errors,
): Readonly<Record<string, PerFilterConfig>> | undefined {
  if (map === undefined) return undefined;
  const names = Object.keys(map);
  if (names.length === 0) return undefined;
  const out: Record<string, PerFilterConfig> = {};
  for (const name of names) {
    let any = map[name];
    let p = `${at(path, "typed_per_filter_config")}["${name}"]`;
    if (any.typeUrl === TYPE_URLS.filterConfig) {
      const fc = unpack(FilterConfig, any.value, p, errors);
      if (fc === undefined) continue;
      if (fc.disabled) errors.add(at(p, "disabled"), notSupported());
      if (fc.config === undefined) {
        errors.add(at(p, "config"), "required");
        continue;
      }
      // An optional config of a filter we lack is skipped, as gRPC's xDS clients do.
      if (fc.isOptional && fc.config.typeUrl !== TYPE_URLS.rbacPerRoute && fc.config.typeUrl !== TYPE_URLS.localRateLimit) continue;
      any = fc.config;
      p = at(p, "config");
    }
    switch (any.typeUrl) {
      case TYPE_URLS.rbacPerRoute: {
        const r = unpack(RBACPerRoute, any.value, p, errors);
        if (r !== undefined) out[name] = { kind: "rbac", rbac: decodeRbacPerRoute(r, p, errors) };
        break;
      }
      case TYPE_URLS.localRateLimit: {
        const l = unpack(LocalRateLimit, any.value, p, errors);
        if (l === undefined) break;
        // Envoy: a per-route config must carry its own bucket.
        if (l.tokenBucket === undefined) errors.add(at(p, "token_bucket"), "required in a per-route config");
        out[name] = { kind: "local_ratelimit", localRateLimit: decodeLocalRateLimit(l, p, errors) };
        break;
      }
      default:
        errors.add(at(p, "@type"), unsupportedValue(any.typeUrl, [TYPE_URLS.rbacPerRoute, TYPE_URLS.localRateLimit, TYPE_URLS.filterConfig]));
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
