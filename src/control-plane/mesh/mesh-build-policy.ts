/** Defaults and normal forms for `policies` and `rateLimit` (see mesh-build.ts for the rest). */
import type { MeshHeaderMatch } from "./mesh-model.js";
import type { MeshAuthorizationRule, MeshCidr, MeshPolicy, MeshRateLimit, MeshStringMatch } from "./mesh-policy-model.js";
import type { RawPolicy, RawRateLimit } from "./mesh-schema.js";

type RawRule = NonNullable<RawPolicy["rules"]>[number];
type RawHeader = NonNullable<RawRule["headers"]>[number];

export function buildPolicy(p: RawPolicy): MeshPolicy {
  return {
    name: p.name,
    listeners: p.listeners ?? [],
    routes: p.routes ?? [],
    action: p.action ?? "allow",
    rules: (p.rules ?? []).map(buildRule),
  };
}

/** `burst` defaults to one second's worth of requests. */
export function buildRateLimit(r: RawRateLimit): MeshRateLimit {
  return { requestsPerSecond: r.requestsPerSecond, burst: r.burst ?? r.requestsPerSecond };
}

function buildRule(r: RawRule): MeshAuthorizationRule {
  return {
    principals: (r.principals ?? []).map(starMatch),
    sources: (r.sources ?? []).map(parseCidr),
    methods: r.methods ?? [],
    paths: [...(r.paths ?? []).map(starMatch), ...(r.grpcMethods ?? []).map(grpcPath)],
    headers: (r.headers ?? []).map(header),
  };
}

/** A trailing `*` makes a prefix match. */
function starMatch(s: string): MeshStringMatch {
  return s.endsWith("*") ? { kind: "prefix", value: s.slice(0, -1) } : { kind: "exact", value: s };
}

/** `pkg.Svc/Method` is the path `/pkg.Svc/Method`; `pkg.Svc/*` the prefix `/pkg.Svc/`. */
function grpcPath(m: string): MeshStringMatch {
  return m.endsWith("/*") ? { kind: "prefix", value: `/${m.slice(0, -1)}` } : { kind: "exact", value: `/${m}` };
}

function parseCidr(c: string): MeshCidr {
  const [address, len] = c.split("/");
  return { address, prefixLen: len === undefined ? (address.includes(":") ? 128 : 32) : Number(len) };
}

function header(h: RawHeader): MeshHeaderMatch {
  const name = h.name.toLowerCase();
  const invert = h.invert ?? false;
  if (h.exact !== undefined) return { name, kind: "exact", value: h.exact, invert };
  if (h.prefix !== undefined) return { name, kind: "prefix", value: h.prefix, invert };
  if (h.suffix !== undefined) return { name, kind: "suffix", value: h.suffix, invert };
  if (h.contains !== undefined) return { name, kind: "contains", value: h.contains, invert };
  if (h.regex !== undefined) return { name, kind: "regex", value: h.regex, invert };
  return { name, kind: "present", value: "", invert };
}
