/**
 * Subject alternative name matching, as Envoy's default certificate validator does it: a certificate
 * passes when any matcher matches any SAN of that matcher's type. DNS exact matchers accept a
 * wildcard SAN (`*.example.com` covers `a.example.com`, one label only), as Envoy's dnsNameMatch.
 */
import type { SanMatcherConfig } from "../config/model.js";

/** A certificate's SANs by type, from node's `subjectaltname` string. */
export interface CertSans {
  /** URI SANs (SPIFFE IDs live here). */
  readonly uri: readonly string[];
  /** DNS SANs. */
  readonly dns: readonly string[];
  /** rfc822Name SANs. */
  readonly email: readonly string[];
  /** IP address SANs as text. */
  readonly ip: readonly string[];
}

/** Splits node's `subjectaltname` (`DNS:a, URI:spiffe://x, IP Address:1.2.3.4, email:a@b`). */
export function parseSans(subjectaltname: string | undefined): CertSans {
  const uri: string[] = [];
  const dns: string[] = [];
  const email: string[] = [];
  const ip: string[] = [];
  for (const part of (subjectaltname ?? "").split(", ")) {
    if (part.startsWith("URI:")) uri.push(part.slice(4));
    else if (part.startsWith("DNS:")) dns.push(part.slice(4));
    else if (part.startsWith("IP Address:")) ip.push(part.slice(11));
    else if (part.startsWith("email:")) email.push(part.slice(6));
  }
  return { uri, dns, email, ip };
}

/** True when the certificate's SANs satisfy the matchers (an empty list accepts everything). */
export type SanCheck = (sans: CertSans) => boolean;

/** Compiles matchers once per config, so a handshake only runs string compares. */
export function compileSanCheck(matchers: readonly SanMatcherConfig[]): SanCheck {
  if (matchers.length === 0) return () => true;
  const tests = matchers.map(compileOne);
  return (sans) => tests.some((t) => t(sans));
}

function compileOne(m: SanMatcherConfig): SanCheck {
  const value = compileValue(m);
  const dnsExact = m.kind === "exact";
  const pick = (s: CertSans): readonly string[] => {
    switch (m.sanType) {
      case "URI":
        return s.uri;
      case "DNS":
        return s.dns;
      case "EMAIL":
        return s.email;
      case "IP_ADDRESS":
        return s.ip;
      case "ANY":
        return [...s.dns, ...s.uri, ...s.email, ...s.ip];
    }
  };
  return (sans) =>
    pick(sans).some((san) => value(san) || ((m.sanType === "DNS" || m.sanType === "ANY") && dnsExact && wildcardMatch(san, m.value, m.ignoreCase)));
}

function compileValue(m: SanMatcherConfig): (s: string) => boolean {
  if (m.kind === "regex") {
    const re = new RegExp(`^(?:${m.value})$`, "u");
    return (s) => re.test(s);
  }
  const want = m.ignoreCase ? m.value.toLowerCase() : m.value;
  const norm = m.ignoreCase ? (s: string): string => s.toLowerCase() : (s: string): string => s;
  switch (m.kind) {
    case "exact":
      return (s) => norm(s) === want;
    case "prefix":
      return (s) => norm(s).startsWith(want);
    case "suffix":
      return (s) => norm(s).endsWith(want);
    case "contains":
      return (s) => norm(s).includes(want);
  }
}

/** `*.example.com` in a certificate covers exactly one extra label of the wanted name. */
function wildcardMatch(san: string, want: string, ignoreCase: boolean): boolean {
  if (!san.startsWith("*.")) return false;
  const w = ignoreCase ? want.toLowerCase() : want;
  const dot = w.indexOf(".");
  if (dot <= 0) return false;
  const suffix = ignoreCase ? san.slice(1).toLowerCase() : san.slice(1);
  return w.slice(dot) === suffix;
}
