/**
 * Virtual-host selection by `:authority`, with Envoy's precedence: an exact domain, then the longest
 * `*suffix` wildcard, then the longest `prefix*` wildcard, then `*`.
 *
 * Ports: a domain may name a port (`api.local:8080`). The authority is tried as sent first; when no
 * exact or wildcard domain matches it and it carries a port, it is tried again without the port, and
 * only then does `*` apply. Without that second try every `host:port` request would fall into the
 * catch-all, which is what users hit with Envoy unless they enable port stripping in the HCM.
 *
 * Lookups allocate nothing except the port-less copy of the authority on the fallback path, and the
 * lower-cased copy when a client sends upper-case letters.
 */

/** What can go wrong with one domain. */
export type DomainProblem = "empty" | "bad-wildcard" | "duplicate";

/** Domain → value index; build with add(), then call seal() once before lookup(). */
export class DomainIndex<T> {
  /** Exact (lower-case) domains. */
  private readonly exact = new Map<string, T>();
  /** `*suffix` patterns without the star, longest first after seal(). */
  private suffixes: { readonly suffix: string; readonly value: T }[] = [];
  /** `prefix*` patterns without the star, longest first after seal(). */
  private prefixes: { readonly prefix: string; readonly value: T }[] = [];
  /** The value for `*`, if any. */
  private catchAll: T | undefined = undefined;
  /** Every domain added, to report duplicates. */
  private readonly seen = new Set<string>();

  /** Adds one domain; returns the problem instead of throwing so callers can collect all of them. */
  add(rawDomain: string, value: T): DomainProblem | undefined {
    const domain = rawDomain.toLowerCase();
    if (domain.length === 0) return "empty";
    const star = domain.indexOf("*");
    // Envoy allows one star, alone or at either end, never in the middle.
    if (star !== -1 && (domain.indexOf("*", star + 1) !== -1 || (star !== 0 && star !== domain.length - 1))) {
      return "bad-wildcard";
    }
    if (this.seen.has(domain)) return "duplicate";
    this.seen.add(domain);
    if (domain === "*") this.catchAll = value;
    else if (star === -1) this.exact.set(domain, value);
    else if (star === 0) this.suffixes.push({ suffix: domain.slice(1), value });
    else this.prefixes.push({ prefix: domain.slice(0, -1), value });
    return undefined;
  }

  /** Orders wildcards longest first and freezes the index. */
  seal(): this {
    // Stable sort keeps config order among equal lengths; two different patterns of equal length cannot
    // both match one host, so the order among them never decides anything.
    this.suffixes = Object.freeze([...this.suffixes].sort((a, b) => b.suffix.length - a.suffix.length)) as typeof this.suffixes;
    this.prefixes = Object.freeze([...this.prefixes].sort((a, b) => b.prefix.length - a.prefix.length)) as typeof this.prefixes;
    return Object.freeze(this);
  }

  /** The value for an authority (`host`, `host:port`, `[v6]:port`), case-insensitively. */
  lookup(authority: string): T | undefined {
    const host = authority.toLowerCase();
    const found = this.specific(host);
    if (found !== undefined) return found;
    const portStart = portStartOf(host);
    if (portStart !== -1) {
      const withoutPort = this.specific(host.slice(0, portStart));
      if (withoutPort !== undefined) return withoutPort;
    }
    return this.catchAll;
  }

  /** Exact, then suffix, then prefix; `*` is left to the caller so the port-less retry comes first. */
  private specific(host: string): T | undefined {
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    const suffixes = this.suffixes;
    for (let i = 0; i < suffixes.length; i++) {
      const s = suffixes[i];
      // Strictly longer: `*.foo.com` must not match `foo.com`, nor `*foo.com` match `foo.com`.
      if (host.length > s.suffix.length && host.endsWith(s.suffix)) return s.value;
    }
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i];
      if (host.length > p.prefix.length && host.startsWith(p.prefix)) return p.value;
    }
    return undefined;
  }
}

/**
 * Index of the ':' that starts a port, or -1. IPv6 literals are bracketed (RFC 3986 §3.2.2), so a
 * colon before the closing bracket is part of the address. The port must be all digits.
 */
export function portStartOf(host: string): number {
  const colon = host.lastIndexOf(":");
  if (colon === -1 || colon === host.length - 1) return -1;
  const bracket = host.lastIndexOf("]");
  if (bracket > colon) return -1;
  // A bare IPv6 address without brackets has several colons and no port we could tell apart.
  if (bracket === -1 && host.indexOf(":") !== colon) return -1;
  for (let i = colon + 1; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return colon;
}
