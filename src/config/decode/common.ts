/**
 * Decoders for small core.v3 pieces shared by listeners, routes, clusters and endpoints: addresses,
 * localities, durations, percents, header mutations and data sources.
 */
import { isIP } from "node:net";
import { protoDurationToMs } from "../../common/duration.js";
import { type Address, SocketAddress_Protocol } from "../../gen/envoy/config/core/v3/address.js";
import {
  type DataSource,
  type HeaderValueOption as PbHeaderValueOption,
  HeaderValueOption_HeaderAppendAction as AppendAction,
  type Locality as PbLocality,
} from "../../gen/envoy/config/core/v3/base.js";
import type { Percent } from "../../gen/envoy/type/v3/percent.js";
import type { Duration } from "../../gen/google/protobuf/duration.js";
import type { HeaderMutations, HeaderValueOption, Locality, SocketAddress } from "../model.js";
import { at, type Errors, idx, notSupported, show, unsupportedValue } from "./field-errors.js";

/** Duration in ms, or `dflt` when unset. */
export function durationMs(d: Duration | undefined, dflt: number): number {
  return d === undefined ? dflt : protoDurationToMs(d);
}

/** Duration in ms, or undefined when unset (for fields where "unset" means something). */
export function optionalDurationMs(d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : protoDurationToMs(d);
}

/** A Percent (0..100), or `dflt` when unset. */
export function percent(p: Percent | undefined, path: string, errors: Errors, dflt: number): number {
  if (p === undefined) return dflt;
  if (!(p.value >= 0 && p.value <= 100)) errors.add(at(path, "value"), `percent ${show(p.value)} is outside 0..100`);
  return p.value;
}

/** A UInt32Value within [min, max], or `dflt` when unset. */
export function boundedUint(
  v: number | undefined,
  path: string,
  errors: Errors,
  dflt: number,
  min: number,
  max = 2 ** 32 - 1,
): number {
  if (v === undefined) return dflt;
  if (v < min || v > max) errors.add(path, `value ${v} is outside ${min}..${max}`);
  return v;
}

/** A DNS name as resolvers accept it: dot-separated labels of letters, digits, `-` and `_`. */
const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Whether `name` is an IP literal or a syntactically valid host name (an optional trailing dot allowed). */
export function isHostnameOrIp(name: string): boolean {
  if (isIP(name) !== 0) return true;
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  return n.length > 0 && n.length <= 253 && n.split(".").every((l) => LABEL.test(l));
}

export interface AddressOptions {
  /** Listeners may bind port 0 (the OS picks one). */
  readonly allowPortZero: boolean;
  /** STRICT_DNS / LOGICAL_DNS endpoints may name a host to resolve instead of an IP. */
  readonly allowHostname?: boolean;
}

/** Address with a TCP socket_address holding an IP literal and a port. */
export function decodeAddress(
  addr: Address | undefined,
  path: string,
  errors: Errors,
  opts: AddressOptions = { allowPortZero: false },
): SocketAddress {
  const fallback: SocketAddress = { address: "", port: 0 };
  if (addr?.address === undefined) {
    errors.add(at(path, "socket_address"), "required");
    return fallback;
  }
  if (addr.address.$case === "pipe") {
    errors.add(at(path, "pipe"), notSupported("a unix socket (pipe) address"));
    return fallback;
  }
  const sa = addr.address.value;
  const p = at(path, "socket_address");
  if (sa.protocol !== SocketAddress_Protocol.TCP) errors.add(at(p, "protocol"), unsupportedValue("UDP", ["TCP"]));
  if (sa.resolverName !== "") errors.add(at(p, "resolver_name"), notSupported());
  if (sa.ipv4Compat) errors.add(at(p, "ipv4_compat"), notSupported());
  // Envoy requires IP literals for listeners and STATIC endpoints: no DNS happens at this layer.
  if (sa.address === "") errors.add(at(p, "address"), "required");
  else if (opts.allowHostname === true) {
    if (!isHostnameOrIp(sa.address)) errors.add(at(p, "address"), `${show(sa.address)} is neither an IP address nor a valid host name`);
  } else if (isIP(sa.address) === 0) errors.add(at(p, "address"), `${show(sa.address)} is not an IP address`);
  let port = 0;
  if (sa.portSpecifier?.$case === "namedPort") {
    errors.add(at(p, "named_port"), notSupported());
  } else {
    port = sa.portSpecifier?.value ?? 0;
    const min = opts.allowPortZero ? 0 : 1;
    if (port < min || port > 65535) errors.add(at(p, "port_value"), `port ${port} is outside ${min}..65535`);
  }
  return { address: sa.address, port };
}

export function decodeLocality(l: PbLocality | undefined): Locality {
  return { region: l?.region ?? "", zone: l?.zone ?? "", subZone: l?.subZone ?? "" };
}

/** Header name as the data plane compares it: lower case (HTTP/2 requires it on the wire anyway). */
export function headerName(name: string, path: string, errors: Errors): string {
  if (name === "") errors.add(path, "header name is required");
  else if (!/^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) errors.add(path, `invalid header name ${show(name)}`);
  return name.toLowerCase();
}

function decodeHeaderValueOption(o: PbHeaderValueOption, path: string, errors: Errors): HeaderValueOption | undefined {
  if (o.header === undefined) {
    errors.add(at(path, "header"), "required");
    return undefined;
  }
  const name = headerName(o.header.key, at(path, "header.key"), errors);
  if (o.header.rawValue.length > 0) errors.add(at(path, "header.raw_value"), notSupported("raw_value (use value)"));
  if (name.startsWith(":") || name === "host") errors.add(at(path, "header.key"), `${show(name)} cannot be modified`);
  if (o.keepEmptyValue) errors.add(at(path, "keep_empty_value"), notSupported());
  let append = true; // Envoy's default for both the deprecated `append` and APPEND_IF_EXISTS_OR_ADD.
  if (o.append !== undefined) {
    if (o.appendAction !== AppendAction.APPEND_IF_EXISTS_OR_ADD) {
      errors.add(at(path, "append"), "append and append_action cannot both be set");
    }
    append = o.append;
  } else if (o.appendAction === AppendAction.OVERWRITE_IF_EXISTS_OR_ADD) {
    append = false;
  } else if (o.appendAction !== AppendAction.APPEND_IF_EXISTS_OR_ADD) {
    errors.add(
      at(path, "append_action"),
      unsupportedValue(AppendAction[o.appendAction] ?? o.appendAction, ["APPEND_IF_EXISTS_OR_ADD", "OVERWRITE_IF_EXISTS_OR_ADD"]),
    );
  }
  // Envoy skips an empty value unless keep_empty_value is set; so do we.
  if (o.header.value === "") return undefined;
  return { name, value: o.header.value, append };
}

function decodeAdds(list: readonly PbHeaderValueOption[], path: string, errors: Errors): HeaderValueOption[] {
  const out: HeaderValueOption[] = [];
  list.forEach((o, i) => {
    const v = decodeHeaderValueOption(o, idx(path, i), errors);
    if (v) out.push(v);
  });
  return out;
}

function decodeRemoves(list: readonly string[], path: string, errors: Errors): string[] {
  return list.map((n, i) => {
    const name = headerName(n, idx(path, i), errors);
    if (name.startsWith(":") || name === "host") errors.add(idx(path, i), `${show(n)} cannot be removed`);
    return name;
  });
}

/** The four `*_headers_to_add/remove` fields RouteConfiguration, VirtualHost and Route share. */
export interface HeaderMutationFields {
  requestHeadersToAdd: PbHeaderValueOption[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: PbHeaderValueOption[];
  responseHeadersToRemove: string[];
}

export function decodeHeaderMutations(m: HeaderMutationFields, path: string, errors: Errors): HeaderMutations {
  return {
    requestToAdd: decodeAdds(m.requestHeadersToAdd, at(path, "request_headers_to_add"), errors),
    requestToRemove: decodeRemoves(m.requestHeadersToRemove, at(path, "request_headers_to_remove"), errors),
    responseToAdd: decodeAdds(m.responseHeadersToAdd, at(path, "response_headers_to_add"), errors),
    responseToRemove: decodeRemoves(m.responseHeadersToRemove, at(path, "response_headers_to_remove"), errors),
  };
}

/** A DataSource that must name a file (certificates, keys). */
export function dataSourceFile(ds: DataSource | undefined, path: string, errors: Errors): string {
  if (ds?.specifier === undefined) {
    errors.add(at(path, "filename"), "required");
    return "";
  }
  if (ds.specifier.$case !== "filename") {
    errors.add(path, notSupported(`${snake(ds.specifier.$case)} (use filename)`));
    return "";
  }
  if (ds.specifier.value === "") errors.add(at(path, "filename"), "must not be empty");
  return ds.specifier.value;
}

/** A DataSource given inline (direct response bodies); undefined when unset. */
export function dataSourceInline(ds: DataSource | undefined, path: string, errors: Errors): string | undefined {
  if (ds?.specifier === undefined) return undefined;
  switch (ds.specifier.$case) {
    case "inlineString":
      return ds.specifier.value;
    case "inlineBytes":
      return Buffer.from(ds.specifier.value).toString("utf8");
    default:
      errors.add(path, notSupported(`${snake(ds.specifier.$case)} (use inline_string or inline_bytes)`));
      return undefined;
  }
}

/** camelCase oneof case back to the proto field name users wrote. */
export function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
