/**
 * Domain model of the HTTP filters that run before the router: RBAC (Envoy's
 * envoy.extensions.filters.http.rbac.v3.RBAC) and the local rate limit
 * (envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit). Produced by
 * config/decode/rbac.ts and config/decode/local-rate-limit.ts, frozen like the rest of the model.
 */
import type { HeaderMatcherConfig } from "./model.js";

/** A StringMatcher (exact, prefix, suffix, contains, RE2-compatible regex), optionally case-insensitive. */
export interface StringMatcherConfig {
  /** Which comparison. */
  readonly kind: "exact" | "prefix" | "suffix" | "contains" | "regex";
  /** The value to compare, or the regex source. */
  readonly value: string;
  /** Envoy `ignore_case` (not for regex). */
  readonly ignoreCase: boolean;
}

/** A CidrRange: an address prefix and a length. */
export interface CidrRangeConfig {
  /** The IP literal as written. */
  readonly addressPrefix: string;
  /** Prefix length in bits (0..32 for IPv4, 0..128 for IPv6). */
  readonly prefixLen: number;
  /** Address family of the prefix. */
  readonly family: "ipv4" | "ipv6";
}

/** One RBAC permission: what the request does. */
export type RbacPermission =
  | { readonly kind: "any" }
  | { readonly kind: "and" | "or"; readonly rules: readonly RbacPermission[] }
  | { readonly kind: "not"; readonly rule: RbacPermission }
  | { readonly kind: "header"; readonly header: HeaderMatcherConfig }
  | { readonly kind: "url_path"; readonly path: StringMatcherConfig }
  | { readonly kind: "destination_ip"; readonly cidr: CidrRangeConfig }
  | { readonly kind: "destination_port"; readonly port: number }
  | { readonly kind: "destination_port_range"; readonly start: number; readonly end: number }
  | { readonly kind: "requested_server_name"; readonly name: StringMatcherConfig };

/** One RBAC principal: who sends the request. */
export type RbacPrincipal =
  | { readonly kind: "any" }
  | { readonly kind: "and" | "or"; readonly ids: readonly RbacPrincipal[] }
  | { readonly kind: "not"; readonly id: RbacPrincipal }
  /** A verified client certificate; `name` undefined matches any authenticated peer. */
  | { readonly kind: "authenticated"; readonly name: StringMatcherConfig | undefined }
  /** `direct_remote_ip`, `remote_ip` and the deprecated `source_ip`: the connection's peer address. */
  | { readonly kind: "remote_ip"; readonly cidr: CidrRangeConfig }
  | { readonly kind: "header"; readonly header: HeaderMatcherConfig }
  | { readonly kind: "url_path"; readonly path: StringMatcherConfig };

/** A named policy: matches when any permission and any principal match. */
export interface RbacPolicyConfig {
  /** The policy's key in `policies`. */
  readonly name: string;
  readonly permissions: readonly RbacPermission[];
  readonly principals: readonly RbacPrincipal[];
}

/** envoy.config.rbac.v3.RBAC. */
export interface RbacRulesConfig {
  /** ALLOW: matching requests pass, others are denied; DENY: matching requests are denied. */
  readonly action: "ALLOW" | "DENY";
  /** Policies in lexicographic order of name (Envoy's evaluation order). */
  readonly policies: readonly RbacPolicyConfig[];
}

/** The RBAC HTTP filter, or its per-route override. */
export interface RbacFilterConfig {
  /** Enforced rules; undefined means the filter enforces nothing. */
  readonly rules: RbacRulesConfig | undefined;
  /** Evaluated and counted only (`shadow_allowed` / `shadow_denied`). */
  readonly shadowRules: RbacRulesConfig | undefined;
}

/** A RuntimeFractionalPercent's default value, as numerator / denominator. */
export interface FractionConfig {
  readonly numerator: number;
  /** 100, 10000 or 1000000. */
  readonly denominator: number;
}

/** The local rate limit filter, or its per-route override. */
export interface LocalRateLimitConfig {
  /** Stats are `<statPrefix>.http_local_rate_limit.*`. */
  readonly statPrefix: string;
  /** Token bucket; undefined means no limit (Envoy allows it only at the listener level). */
  readonly tokenBucket: TokenBucketConfig | undefined;
  /** Fraction of requests the filter looks at; Envoy's default when unset is 0% (off). */
  readonly filterEnabled: FractionConfig;
  /** Fraction of limited requests actually rejected; Envoy's default when unset is 0% (count only). */
  readonly filterEnforced: FractionConfig;
  /** HTTP status of the local reply (default 429). */
  readonly status: number;
  /** gRPC callers get RESOURCE_EXHAUSTED instead of the mapped UNAVAILABLE. */
  readonly rateLimitedAsResourceExhausted: boolean;
}

/** TokenBucket: starts full with maxTokens; every fillInterval adds tokensPerFill, up to maxTokens. */
export interface TokenBucketConfig {
  readonly maxTokens: number;
  /** Default 1. */
  readonly tokensPerFill: number;
  /** Milliseconds; Envoy requires at least 50 ms. */
  readonly fillIntervalMs: number;
}

/** A decoded `typed_per_filter_config` entry of a virtual host or route. */
export type PerFilterConfig =
  | { readonly kind: "rbac"; readonly rbac: RbacFilterConfig | undefined }
  | { readonly kind: "local_ratelimit"; readonly localRateLimit: LocalRateLimitConfig };
