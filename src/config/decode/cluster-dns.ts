/**
 * DNS settings of STRICT_DNS and LOGICAL_DNS clusters: refresh rate, TTL, lookup family, failure
 * backoff and the resolver (c-ares' CaresDnsResolverConfig in typed_dns_resolver_config). Defaults
 * and bounds are Envoy's.
 */
import {
  type Cluster,
  Cluster_DnsLookupFamily as PbFamily,
} from "../../gen/envoy/config/cluster/v3/cluster.js";
import { CaresDnsResolverConfig } from "../../gen/envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.js";
import type { DnsConfig, DnsLookupFamily, SocketAddress } from "../model.js";
import { decodeAddress, durationMs } from "./common.js";
import { at, type Errors, idx, notSupported, show, unsupportedValue } from "./field-errors.js";
import { TYPE_URLS, unpack } from "./typed-config.js";

/** Envoy's dns_refresh_rate default. */
export const DEFAULT_DNS_REFRESH_RATE_MS = 5_000;

const FAMILIES: readonly DnsLookupFamily[] = ["AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"];

/** The DNS settings of a DNS cluster (call only for STRICT_DNS / LOGICAL_DNS). */
export function decodeDnsConfig(c: Cluster, path: string, errors: Errors): DnsConfig {
  const refreshRateMs = durationMs(c.dnsRefreshRate, DEFAULT_DNS_REFRESH_RATE_MS);
  // Envoy's validation: strictly more than 1 ms.
  if (!(refreshRateMs > 1)) errors.add(at(path, "dns_refresh_rate"), `${show(`${refreshRateMs}ms`)} must be greater than 1ms`);
  const family = c.dnsLookupFamily ?? PbFamily.AUTO;
  const familyName = PbFamily[family] ?? String(family);
  const lookupFamily = (FAMILIES as readonly string[]).includes(familyName) ? (familyName as DnsLookupFamily) : "AUTO";
  if (lookupFamily !== familyName) errors.add(at(path, "dns_lookup_family"), unsupportedValue(familyName, FAMILIES));
  let failureRefresh: DnsConfig["failureRefresh"];
  const fr = c.dnsFailureRefreshRate;
  if (fr !== undefined) {
    const p = at(path, "dns_failure_refresh_rate");
    if (fr.baseInterval === undefined) errors.add(at(p, "base_interval"), "required");
    const baseMs = durationMs(fr.baseInterval, refreshRateMs);
    if (fr.baseInterval !== undefined && !(baseMs > 1)) errors.add(at(p, "base_interval"), `${show(`${baseMs}ms`)} must be greater than 1ms`);
    const maxMs = durationMs(fr.maxInterval, baseMs * 10);
    if (fr.maxInterval !== undefined && maxMs < baseMs) {
      errors.add(at(p, "max_interval"), `${show(`${maxMs}ms`)} must be at least base_interval (${baseMs}ms)`);
    }
    failureRefresh = { baseMs, maxMs };
  }
  return {
    refreshRateMs,
    respectDnsTtl: c.respectDnsTtl === true,
    lookupFamily,
    failureRefresh,
    resolvers: decodeResolvers(c, at(path, "typed_dns_resolver_config"), errors),
  };
}

/** The DNS servers of typed_dns_resolver_config; empty (the system's) when the field is absent. */
function decodeResolvers(c: Cluster, path: string, errors: Errors): SocketAddress[] {
  const t = c.typedDnsResolverConfig;
  if (t === undefined) return [];
  const any = t.typedConfig;
  if (any === undefined) {
    errors.add(at(path, "typed_config"), "required");
    return [];
  }
  if (any.typeUrl !== TYPE_URLS.caresDnsResolver) {
    errors.add(at(path, "typed_config.@type"), unsupportedValue(any.typeUrl, [TYPE_URLS.caresDnsResolver]));
    return [];
  }
  const p = at(path, "typed_config");
  const cfg = unpack(CaresDnsResolverConfig, any.value, p, errors);
  if (cfg === undefined) return [];
  if (cfg.useResolversAsFallback) errors.add(at(p, "use_resolvers_as_fallback"), notSupported("true (the listed resolvers are always used)"));
  if (cfg.resolvers.length === 0) errors.add(at(p, "resolvers"), "at least one resolver is required");
  return cfg.resolvers.map((a, i) => decodeAddress(a, idx(at(p, "resolvers"), i), errors));
}
