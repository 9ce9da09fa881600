/**
 * DnsResolver: what a DNS cluster asks of DNS, small enough for unit tests to fake. The real one is
 * node:dns's c-ares `Resolver` (as Envoy's default c-ares resolver), querying the configured servers
 * or, with none, the system's (/etc/resolv.conf).
 */
import { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { DnsLookupFamily, SocketAddress } from "../config/model.js";

/** One resolution's result. */
export interface DnsAnswer {
  /** IP literals in answer order; empty when the name has no records of the asked families. */
  readonly addresses: readonly string[];
  /** Smallest record TTL in seconds; 0 when unknown (no records, or an IP literal). */
  readonly ttlSeconds: number;
}

/** Resolves host names for one DNS cluster. */
export interface DnsResolver {
  /** Answers for `name`; NXDOMAIN and NODATA are empty answers, other failures reject. */
  resolve(name: string, family: DnsLookupFamily): Promise<DnsAnswer>;
  /** Abandons queries in flight (they reject); the resolver is not used again. */
  cancel(): void;
}

/** c-ares codes meaning "the name has no such records": an answer, not a failure (as Envoy's c-ares). */
const EMPTY_CODES: ReadonlySet<string> = new Set(["ENODATA", "ENOTFOUND"]);

const EMPTY: DnsAnswer = { addresses: [], ttlSeconds: 0 };

/** resolv.conf's `search` list and `options ndots` (glibc default 1). */
export interface SearchConfig {
  readonly domains: readonly string[];
  readonly ndots: number;
}

/** Parses resolv.conf text: the last `search` / `domain` line wins, as in glibc. */
export function parseResolvConf(text: string): SearchConfig {
  let domains: string[] = [];
  let ndots = 1;
  for (const raw of text.split("\n")) {
    const [key, ...rest] = raw.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (key === "search" || key === "domain") domains = rest.filter((d) => d !== "" && d !== ".");
    else if (key === "options") {
      for (const o of rest) if (o.startsWith("ndots:")) ndots = Math.min(15, Number(o.slice(6)) || 0);
    }
  }
  return { domains, ndots };
}

/** The system's search list, or none when /etc/resolv.conf cannot be read. */
function systemSearch(): SearchConfig {
  try {
    return parseResolvConf(readFileSync("/etc/resolv.conf", "utf8"));
  } catch {
    return { domains: [], ndots: 1 };
  }
}

/**
 * Names to try for `name`, in order, as glibc and c-ares' ares_search do (node's resolve4/6 do not): a
 * name ending in `.` is absolute; one with at least `ndots` dots is tried as is first, others after
 * the search domains. So `payments` in a Kubernetes pod finds `payments.<ns>.svc.cluster.local`.
 */
export function searchCandidates(name: string, search: SearchConfig): string[] {
  if (name.endsWith(".")) return [name.slice(0, -1)];
  const withDomains = search.domains.map((d) => `${name}.${d}`);
  const dots = name.split(".").length - 1;
  return dots >= search.ndots ? [name, ...withDomains] : [...withDomains, name];
}

/**
 * The node:dns resolver; `servers` empty means the system's name servers. Names go through
 * `search` (default: /etc/resolv.conf's) and `localhost` answers loopback without a query.
 */
export function createDnsResolver(servers: readonly SocketAddress[], search: SearchConfig = systemSearch()): DnsResolver {
  const r = new Resolver();
  if (servers.length > 0) r.setServers(servers.map((s) => (s.address.includes(":") ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`)));
  const query = async (name: string, v6: boolean): Promise<DnsAnswer> => {
    try {
      const records = v6 ? await r.resolve6(name, { ttl: true }) : await r.resolve4(name, { ttl: true });
      let ttl = Number.POSITIVE_INFINITY;
      for (const rec of records) ttl = Math.min(ttl, rec.ttl);
      return { addresses: records.map((rec) => rec.address), ttlSeconds: records.length === 0 ? 0 : ttl };
    } catch (err) {
      if (EMPTY_CODES.has((err as NodeJS.ErrnoException).code ?? "")) return EMPTY;
      throw err;
    }
  };
  const resolve = async (name: string, family: DnsLookupFamily): Promise<DnsAnswer> => {
    if (name.toLowerCase() === "localhost") return localhost(family);
    // The first candidate with addresses wins; an error stops the search (the last answer stays).
    for (const candidate of searchCandidates(name, search)) {
      const a = await resolveFamily(candidate, family, query);
      if (a.addresses.length > 0) return a;
    }
    return EMPTY;
  };
  return { resolve, cancel: () => r.cancel() };
}

/** `localhost` as /etc/hosts has it (node's resolve4/6 do not read /etc/hosts). */
function localhost(family: DnsLookupFamily): DnsAnswer {
  const v4 = "127.0.0.1";
  const v6 = "::1";
  const addresses = family === "V4_ONLY" || family === "V4_PREFERRED" ? [v4] : family === "V6_ONLY" || family === "AUTO" ? [v6] : [v4, v6];
  return { addresses, ttlSeconds: 0 };
}

/**
 * Applies Envoy's DnsLookupFamily on top of per-family queries: AUTO asks IPv6 then falls back to IPv4,
 * V4_PREFERRED the reverse, ALL takes both (succeeding if either does). An IP literal resolves to itself.
 */
export async function resolveFamily(
  name: string,
  family: DnsLookupFamily,
  query: (name: string, v6: boolean) => Promise<DnsAnswer>,
): Promise<DnsAnswer> {
  if (isIP(name) !== 0) return { addresses: [name], ttlSeconds: 0 };
  switch (family) {
    case "V4_ONLY":
      return query(name, false);
    case "V6_ONLY":
      return query(name, true);
    case "AUTO":
      return withFallback(() => query(name, true), () => query(name, false));
    case "V4_PREFERRED":
      return withFallback(() => query(name, false), () => query(name, true));
    case "ALL": {
      const [v4, v6] = await Promise.allSettled([query(name, false), query(name, true)]);
      if (v4.status === "rejected" && v6.status === "rejected") throw v4.reason as Error;
      const answers = [v4, v6].flatMap((s) => (s.status === "fulfilled" && s.value.addresses.length > 0 ? [s.value] : []));
      if (answers.length === 0) return EMPTY;
      return {
        addresses: answers.flatMap((a) => a.addresses),
        ttlSeconds: Math.min(...answers.map((a) => a.ttlSeconds)),
      };
    }
  }
}

/** The first family's answer when it has addresses, else the second's; fails when neither answered. */
async function withFallback(first: () => Promise<DnsAnswer>, second: () => Promise<DnsAnswer>): Promise<DnsAnswer> {
  let firstError: Error | undefined;
  try {
    const a = await first();
    if (a.addresses.length > 0) return a;
  } catch (err) {
    firstError = err as Error;
  }
  let a: DnsAnswer;
  try {
    a = await second();
  } catch (err) {
    throw firstError ?? (err as Error);
  }
  // An empty answer only counts when the other family answered too; otherwise keep the last hosts.
  if (a.addresses.length === 0 && firstError !== undefined) throw firstError;
  return a;
}
