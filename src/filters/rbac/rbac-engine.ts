/**
 * RBAC evaluation (Envoy's RoleBasedAccessControlEngineImpl): a policy matches when any of its
 * permissions and any of its principals match; ALLOW lets through only requests some policy matches,
 * DENY stops exactly those. Policies are tried in name order and the first match decides, so the
 * common case costs a few header lookups and string compares, with no allocation.
 *
 * Connection facts come from the downstream socket: the peer address (`remote_ip`, `direct_remote_ip`
 * and `source_ip` alike, as with Envoy's default of no trusted proxies), the local address and port
 * (`destination_*`), SNI, and the verified client certificate (`authenticated`: URI SANs, then DNS
 * SANs, then the subject, as Envoy).
 */
import { BlockList } from "node:net";
import type { TLSSocket } from "node:tls";
import type { FieldError } from "../../common/errors.js";
import type { HeaderMatcherConfig } from "../../config/model.js";
import type { CidrRangeConfig, RbacPermission, RbacPrincipal, RbacRulesConfig, StringMatcherConfig } from "../../config/policy-model.js";
import { CompiledHeaderMatcher, compileFullMatch, pathEnd } from "../../router/route-match.js";
import { isTlsSocket, peerIdentity } from "../../security/peer-identity.js";
import type { FilterRequest } from "../http-filter.js";
import { CompiledStringMatcher } from "../string-matcher.js";

/** One compiled permission or principal. */
interface Matcher {
  matches(req: FilterRequest): boolean;
}

const ANY: Matcher = { matches: () => true };

class AndMatcher implements Matcher {
  constructor(private readonly parts: readonly Matcher[]) {}
  matches(req: FilterRequest): boolean {
    const p = this.parts;
    for (let i = 0; i < p.length; i++) if (!p[i].matches(req)) return false;
    return true;
  }
}

class OrMatcher implements Matcher {
  constructor(private readonly parts: readonly Matcher[]) {}
  matches(req: FilterRequest): boolean {
    const p = this.parts;
    for (let i = 0; i < p.length; i++) if (p[i].matches(req)) return true;
    return false;
  }
}

class NotMatcher implements Matcher {
  constructor(private readonly inner: Matcher) {}
  matches(req: FilterRequest): boolean {
    return !this.inner.matches(req);
  }
}

class HeaderRule implements Matcher {
  constructor(private readonly header: CompiledHeaderMatcher) {}
  matches(req: FilterRequest): boolean {
    return this.header.matches(req.requestHeaders);
  }
}

/** `url_path`: the path without query string or fragment (`/pkg.Service/Method` for gRPC). */
class UrlPathRule implements Matcher {
  constructor(private readonly matcher: CompiledStringMatcher) {}
  matches(req: FilterRequest): boolean {
    const path = req.requestHeaders[":path"] ?? "";
    const end = pathEnd(path);
    return this.matcher.matches(end === path.length ? path : path.slice(0, end));
  }
}

/** A CIDR test on the peer's (remote) or our (local) address of the connection. */
class CidrRule implements Matcher {
  private readonly list = new BlockList();
  constructor(
    cidr: CidrRangeConfig,
    private readonly local: boolean,
  ) {
    this.list.addSubnet(cidr.addressPrefix, cidr.prefixLen, cidr.family);
  }
  matches(req: FilterRequest): boolean {
    const s = req.downstreamSocket;
    const address = this.local ? s?.localAddress : s?.remoteAddress;
    if (address === undefined) return false;
    // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; an IPv4 range must still match them.
    if (address.startsWith("::ffff:") && address.includes(".")) return this.list.check(address.slice(7), "ipv4");
    return this.list.check(address, address.includes(":") ? "ipv6" : "ipv4");
  }
}

class PortRule implements Matcher {
  /** [start, end) */
  constructor(
    private readonly start: number,
    private readonly end: number,
  ) {}
  matches(req: FilterRequest): boolean {
    const port = req.downstreamSocket?.localPort;
    return port !== undefined && port >= this.start && port < this.end;
  }
}

/** SNI of a TLS connection; "" for cleartext (Envoy's requestedServerName when there is none). */
class ServerNameRule implements Matcher {
  constructor(private readonly matcher: CompiledStringMatcher) {}
  matches(req: FilterRequest): boolean {
    const s = req.downstreamSocket;
    const sni = isTlsSocket(s) ? (s as TLSSocket & { servername?: string | false }).servername : undefined;
    return this.matcher.matches(typeof sni === "string" ? sni : "");
  }
}

/** `authenticated`: a verified client certificate, its name optionally matched. */
class AuthenticatedRule implements Matcher {
  constructor(private readonly name: CompiledStringMatcher | undefined) {}
  matches(req: FilterRequest): boolean {
    const id = peerIdentity(req.downstreamSocket);
    if (id === undefined) return false;
    const m = this.name;
    if (m === undefined) return true;
    for (const san of id.uriSans) if (m.matches(san)) return true;
    for (const san of id.dnsSans) if (m.matches(san)) return true;
    return m.matches(id.subject);
  }
}

/** A compiled envoy.config.rbac.v3.RBAC. */
export class RbacEngine {
  readonly action: "ALLOW" | "DENY";
  /** Policy names, in evaluation order. */
  readonly policyNames: readonly string[];
  /** Problems found while compiling (regexes); empty for a config that decoded cleanly. */
  readonly errors: readonly FieldError[];
  private readonly permissions: readonly Matcher[];
  private readonly principals: readonly Matcher[];

  constructor(config: RbacRulesConfig, fieldPath = "") {
    const errors: FieldError[] = [];
    this.action = config.action;
    this.policyNames = config.policies.map((p) => p.name);
    this.permissions = config.policies.map(
      (p, i) => new OrMatcher(p.permissions.map((x, j) => permission(x, `${fieldPath}policies[${i}].permissions[${j}]`, errors))),
    );
    this.principals = config.policies.map(
      (p, i) => new OrMatcher(p.principals.map((x, j) => principal(x, `${fieldPath}policies[${i}].principals[${j}]`, errors))),
    );
    this.errors = errors;
  }

  /** The name of the first policy the request matches, or undefined. */
  matchingPolicy(req: FilterRequest): string | undefined {
    const perms = this.permissions;
    for (let i = 0; i < perms.length; i++) {
      if (perms[i].matches(req) && this.principals[i].matches(req)) return this.policyNames[i];
    }
    return undefined;
  }

  /** Whether the request may pass. */
  allows(req: FilterRequest): boolean {
    const matched = this.matchingPolicy(req) !== undefined;
    return this.action === "ALLOW" ? matched : !matched;
  }
}

function stringMatcher(m: StringMatcherConfig, path: string, errors: FieldError[]): CompiledStringMatcher {
  return new CompiledStringMatcher(m, path, errors);
}

function headerMatcher(h: HeaderMatcherConfig, path: string, errors: FieldError[]): Matcher {
  const regex = h.kind === "regex" ? compileFullMatch(h.value, `${path}.header.safe_regex_match.regex`, errors) : undefined;
  return new HeaderRule(new CompiledHeaderMatcher(h, regex));
}

function permission(p: RbacPermission, path: string, errors: FieldError[]): Matcher {
  switch (p.kind) {
    case "any":
      return ANY;
    case "and":
      return new AndMatcher(p.rules.map((r, i) => permission(r, `${path}.and_rules.rules[${i}]`, errors)));
    case "or":
      return new OrMatcher(p.rules.map((r, i) => permission(r, `${path}.or_rules.rules[${i}]`, errors)));
    case "not":
      return new NotMatcher(permission(p.rule, `${path}.not_rule`, errors));
    case "header":
      return headerMatcher(p.header, path, errors);
    case "url_path":
      return new UrlPathRule(stringMatcher(p.path, `${path}.url_path.path`, errors));
    case "destination_ip":
      return new CidrRule(p.cidr, true);
    case "destination_port":
      return new PortRule(p.port, p.port + 1);
    case "destination_port_range":
      return new PortRule(p.start, p.end);
    case "requested_server_name":
      return new ServerNameRule(stringMatcher(p.name, `${path}.requested_server_name`, errors));
  }
}

function principal(p: RbacPrincipal, path: string, errors: FieldError[]): Matcher {
  switch (p.kind) {
    case "any":
      return ANY;
    case "and":
      return new AndMatcher(p.ids.map((r, i) => principal(r, `${path}.and_ids.ids[${i}]`, errors)));
    case "or":
      return new OrMatcher(p.ids.map((r, i) => principal(r, `${path}.or_ids.ids[${i}]`, errors)));
    case "not":
      return new NotMatcher(principal(p.id, `${path}.not_id`, errors));
    case "authenticated":
      return new AuthenticatedRule(p.name && stringMatcher(p.name, `${path}.authenticated.principal_name`, errors));
    case "remote_ip":
      return new CidrRule(p.cidr, false);
    case "header":
      return headerMatcher(p.header, path, errors);
    case "url_path":
      return new UrlPathRule(stringMatcher(p.path, `${path}.url_path.path`, errors));
  }
}
