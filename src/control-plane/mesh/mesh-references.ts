/**
 * Rules that span fields or sections of mesh.yaml: unique names, references that must resolve,
 * "exactly one of" choices, orderings between durations. They read the raw parsed YAML defensively
 * (anything of the wrong type is skipped: the schema reports it) so that they run even when the
 * schema has failed elsewhere, and a user sees every error of the file in one go.
 */
import type { FieldError } from "../../common/errors.js";
import { parseHumanDuration } from "../../common/duration.js";
import { joinPath, nearest } from "./mesh-errors.js";
import { parseHostPort, show } from "./mesh-primitives.js";

/**
 * Upstream TLS is translated (UpstreamTlsContext) and the sidecar originates it.
 */
export const HTTPS_UPSTREAMS_SUPPORTED = true;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The entries of a list-valued key with their indexes; non-objects are skipped. */
function entries(o: unknown, key: string): [number, Obj][] {
  if (!isObj(o)) return [];
  const v = o[key];
  if (!Array.isArray(v)) return [];
  return v.flatMap((e, i): [number, Obj][] => (isObj(e) ? [[i, e]] : []));
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Checks every cross-field rule of a mesh document; [] when it holds together. */
export function checkReferences(doc: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const add = (path: string, message: string): void => {
    errors.push({ path, message });
  };

  const upstreamNames = uniqueNames(doc, "upstreams", "upstream", add);
  const routeNames = uniqueNames(doc, "routes", "route", add);
  const listenerNames = uniqueNames(doc, "listeners", "listener", add);
  uniqueNames(doc, "policies", "policy", add);

  for (const [i, u] of entries(doc, "upstreams")) checkUpstream(u, `upstreams[${i}]`, add);

  for (const [i, r] of entries(doc, "routes")) {
    const rp = `routes[${i}]`;
    checkHosts(r, rp, add);
    for (const [j, rule] of entries(r, "rules")) {
      const p = `${rp}.rules[${j}]`;
      const target = str(rule.upstream);
      if (target !== undefined && !upstreamNames.has(target)) {
        add(`${p}.upstream`, unresolved("upstream", target, upstreamNames));
      }
      if (isObj(rule.match)) checkMatch(rule.match, `${p}.match`, add);
    }
  }

  checkMtls(doc, add);

  for (const [i, l] of entries(doc, "listeners")) {
    const address = str(l.address);
    if (address !== undefined) checkIpLiteral(address.trim(), true, `listeners[${i}].address`, add);
    const route = str(l.route);
    if (route !== undefined && !routeNames.has(route)) add(`listeners[${i}].route`, unresolved("route", route, routeNames));
  }

  // Authorization policies name the listeners and routes they govern.
  for (const [i, pol] of entries(doc, "policies")) {
    const p = `policies[${i}]`;
    if (pol.listeners === undefined && pol.routes === undefined) add(p, "a policy needs listeners or routes to apply to");
    for (const [key, what, known] of [["listeners", "listener", listenerNames], ["routes", "route", routeNames]] as const) {
      const list = pol[key];
      if (!Array.isArray(list)) continue;
      list.forEach((name, j) => {
        if (typeof name === "string" && !known.has(name)) add(`${p}.${key}[${j}]`, unresolved(what, name, known));
      });
    }
  }
  return errors;
}

type Add = (path: string, message: string) => void;

/** Strict mTLS needs the pod's certificate, key and CA; `identity` is for mesh-internal (h2c) upstreams. */
function checkMtls(doc: unknown, add: Add): void {
  const m = isObj(doc) ? doc.mtls : undefined;
  if (isObj(m) && m.mode === "strict") {
    for (const k of ["certFile", "keyFile", "caFile"]) if (m[k] === undefined) add(`mtls.${k}`, `required with mode "strict"`);
  }
  for (const [i, u] of entries(doc, "upstreams")) {
    if (u.identity !== undefined && u.protocol === "https") {
      add(`upstreams[${i}].identity`, `applies to mesh-internal upstreams (grpc, http2); for "https" list the names in tls.subjectAltNames`);
    }
  }
}

function uniqueNames(doc: unknown, section: string, what: string, add: Add): Set<string> {
  const seen = new Map<string, number>();
  for (const [i, e] of entries(doc, section)) {
    const name = str(e.name);
    if (name === undefined) continue;
    const first = seen.get(name);
    if (first !== undefined) add(`${section}[${i}].name`, `${show(name)} is already the name of ${section}[${first}]; ${what} names must be unique`);
    else seen.set(name, i);
  }
  return new Set(seen.keys());
}

function unresolved(what: string, name: string, known: ReadonlySet<string>): string {
  const hint = nearest(name, [...known]);
  const list = known.size === 0 ? `there are no ${what}s` : hint ? `did you mean ${show(hint)}?` : `known: ${[...known].join(", ")}`;
  return `no ${what} named ${show(name)} (${list})`;
}

function checkUpstream(u: Obj, p: string, add: Add): void {
  checkDiscovery(u, p, add);
  // grpc-js-xds NACKs a ClusterLoadAssignment with the same address twice; Envoy merges them.
  const addresses = new Map<string, number>();
  for (const [j, n] of entries(u, "nodes")) {
    const a = str(n.address)?.trim();
    if (a === undefined) continue;
    const first = addresses.get(a);
    if (first !== undefined) add(`${p}.nodes[${j}].address`, `${show(a)} is already nodes[${first}]; give it a higher weight instead`);
    else addresses.set(a, j);
    checkIpLiteral(a, false, `${p}.nodes[${j}].address`, add);
  }

  const hc = u.healthCheck;
  if (isObj(hc)) {
    const kinds = ["grpc", "http"].filter((k) => hc[k] !== undefined);
    if (kinds.length !== 1) {
      add(`${p}.healthCheck`, kinds.length === 0 ? "needs one of grpc: {...} or http: {path}" : "has both grpc and http; choose one");
    }
  }

  const protocol = str(u.protocol) ?? "grpc";
  if (protocol === "https" && !HTTPS_UPSTREAMS_SUPPORTED) {
    add(`${p}.protocol`, `"https" is not supported yet: the Pilotfish sidecar cannot originate TLS (use grpc or http2)`);
  }
  const tls = u.tls;
  if (tls !== undefined && protocol !== "https") add(`${p}.tls`, `only applies to protocol "https" (this upstream is ${show(protocol)})`);
  if (isObj(tls) && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    add(`${p}.tls`, `certFile and keyFile go together (client certificate); only ${tls.certFile === undefined ? "keyFile" : "certFile"} is set`);
  }

  const od = u.outlierDetection;
  if (isObj(od)) {
    const base = durationOf(od.baseEjectionTime);
    const max = durationOf(od.maxEjectionTime);
    if (max !== undefined && max < (base ?? 30_000)) {
      add(`${p}.outlierDetection.maxEjectionTime`, `${show(od.maxEjectionTime)} is shorter than baseEjectionTime (${base === undefined ? "30s, the default" : show(od.baseEjectionTime)})`);
    }
  }

  const lr = u.leastRequest;
  const balance = str(u.balance);
  if (lr !== undefined && balance !== undefined && balance.replace("-", "_") !== "least_request") {
    add(`${p}.leastRequest`, `only applies to balance "least_request" (this upstream uses ${show(balance)})`);
  }
}

/** `nodes` or `discovery`, exactly one; `discovery` holds exactly one source. */
function checkDiscovery(u: Obj, p: string, add: Add): void {
  const d = u.discovery;
  if (u.nodes !== undefined && d !== undefined) {
    add(`${p}.discovery`, "nodes and discovery are exclusive: list the nodes or say where they come from, not both");
  } else if (u.nodes === undefined && d === undefined) {
    add(p, "needs nodes: [...] or discovery: {dns: ...} / {kubernetes: ...}");
  }
  if (!isObj(d)) return;
  const kinds = ["dns", "kubernetes"].filter((k) => d[k] !== undefined);
  if (kinds.length !== 1) add(`${p}.discovery`, kinds.length === 0 ? "needs one of dns: {name, port} or kubernetes: {service, port}" : "has both dns and kubernetes; choose one");
}

/**
 * xDS carries addresses, not names: Envoy (EDS and listeners), grpc-js-xds and the Pilotfish sidecar
 * all refuse a hostname there. The schema accepts hostnames as syntax; this says why they cannot work.
 */
function checkIpLiteral(text: string, allowPortZero: boolean, path: string, add: Add): void {
  const hp = parseHostPort(text, allowPortZero);
  if (typeof hp === "string" || hp.isIp) return;
  const hint = hp.host.toLowerCase() === "localhost" ? "127.0.0.1" : "its IP address";
  add(path, `${show(text)}: ${show(hp.host)} is a hostname; xDS endpoints and listeners need an IP address (write ${hint})`);
}

function durationOf(v: unknown): number | undefined {
  if (v === 0) return 0;
  return typeof v === "string" ? parseHumanDuration(v) : undefined;
}

const PATH_KEYS = ["prefix", "path", "regex", "grpcService"] as const;
const HEADER_KEYS = ["exact", "prefix", "suffix", "contains", "regex", "present"] as const;

function checkMatch(m: Obj, p: string, add: Add): void {
  const used = PATH_KEYS.filter((k) => m[k] !== undefined);
  if (used.length > 1) add(p, `has ${used.join(" and ")}; a rule matches the path one way (choose one)`);
  if (m.grpcMethod !== undefined && m.grpcService === undefined) add(`${p}.grpcMethod`, "needs grpcService (the method of which service?)");
  const prefix = str(m.prefix);
  if (prefix !== undefined && prefix !== "" && !prefix.startsWith("/")) add(`${p}.prefix`, `${show(prefix)} must start with "/" (paths always do)`);
  checkRegex(m.regex, `${p}.regex`, add);
  for (const [k, h] of entries(m, "headers")) {
    const hp = `${p}.headers[${k}]`;
    const kinds = HEADER_KEYS.filter((key) => h[key] !== undefined);
    if (kinds.length !== 1) {
      add(hp, kinds.length === 0 ? `needs one of ${HEADER_KEYS.join(", ")}` : `has ${kinds.join(" and ")}; choose one`);
    }
    checkRegex(h.regex, `${hp}.regex`, add);
  }
}

function checkRegex(v: unknown, p: string, add: Add): void {
  if (typeof v !== "string") return;
  try {
    new RegExp(v);
  } catch (err) {
    add(p, `${show(v)} is not a valid regular expression (${(err as Error).message})`);
  }
}

/** Virtual-host domains as Envoy and grpc-js-xds accept them: one `*`, at the start or the end. */
function checkHosts(r: Obj, p: string, add: Add): void {
  const hosts = r.hosts;
  if (!Array.isArray(hosts)) return;
  const seen = new Map<string, number>();
  hosts.forEach((h: unknown, i) => {
    if (typeof h !== "string") return;
    const hp = joinPath(`${p}.hosts`, i);
    const stars = h.split("*").length - 1;
    if (stars > 1 || (stars === 1 && h !== "*" && !h.startsWith("*") && !h.endsWith("*"))) {
      add(hp, `${show(h)}: a host may hold one "*", at its start or its end`);
    }
    const key = h.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) add(hp, `${show(h)} is already hosts[${first}]`);
    else seen.set(key, i);
  });
}
