/**
 * Header additions and removals (Envoy `request_headers_to_add` / `_to_remove` and the response
 * equivalents), compiled once per route into a flat list of operations so that the hot path is a
 * single loop with no lookups of config objects, no string building and no closures.
 *
 * Order: the levels are applied least specific first (route configuration, then virtual host, then
 * route), each level removing before adding (as Envoy's HeaderParser does). The most specific level
 * therefore wins when two levels overwrite the same header. This is Envoy's behaviour with
 * `most_specific_header_mutations_wins: true`; Envoy's default is the reverse (the route
 * configuration wins), which surprises users and which we do not offer.
 */
import type { OutgoingHttpHeaders } from "node:http2";
import type { HeaderMutations } from "../config/model.js";

/** Delete the header. */
export const HEADER_OP_REMOVE = 0;
/** Set the header, replacing any existing value (Envoy OVERWRITE_IF_EXISTS_OR_ADD). */
export const HEADER_OP_SET = 1;
/** Add the value after any existing ones (Envoy APPEND_IF_EXISTS_OR_ADD). */
export const HEADER_OP_APPEND = 2;

/** One of the HEADER_OP_* constants. */
export type HeaderOpKind = typeof HEADER_OP_REMOVE | typeof HEADER_OP_SET | typeof HEADER_OP_APPEND;

/** One compiled header operation. */
export interface HeaderOp {
  /** What to do. */
  readonly kind: HeaderOpKind;
  /** Lower-case header name; never a pseudo-header nor `host`. */
  readonly name: string;
  /** Value to set or append; empty for removals. */
  readonly value: string;
  /**
   * For appends: keep values as separate fields (an array) instead of comma-joining. True for
   * `set-cookie` (which cannot be comma-joined) and `cookie` (HTTP/2 sends cookie crumbs as
   * separate fields).
   */
  readonly separateFields: boolean;
}

/** The operations of one route, for each direction. */
export interface CompiledHeaderMutations {
  /** Applied to the upstream request headers, in order. */
  readonly request: readonly HeaderOp[];
  /** Applied to the downstream response headers, in order. */
  readonly response: readonly HeaderOp[];
}

/** A route with no mutations at any level shares this object. */
export const NO_HEADER_MUTATIONS: CompiledHeaderMutations = Object.freeze({
  request: Object.freeze([]),
  response: Object.freeze([]),
});

/**
 * Whether a header may never be touched by configured mutations: pseudo-headers would corrupt the
 * HTTP/2 framing of the request and `host` is owned by host rewriting. Envoy refuses the same.
 */
export function isProtectedHeader(name: string): boolean {
  return name.length === 0 || name.charCodeAt(0) === 0x3a /* ':' */ || name === "host";
}

/**
 * Compiles mutation levels given least specific first. Protected headers are dropped silently here
 * (config/decode is expected to reject them with a field path; this is the safety net), as are
 * additions with an empty value, which Envoy skips unless `keep_empty_value` is set.
 */
export function compileHeaderMutations(levels: readonly HeaderMutations[]): CompiledHeaderMutations {
  const request: HeaderOp[] = [];
  const response: HeaderOp[] = [];
  for (const level of levels) {
    pushOps(request, level.requestToRemove, level.requestToAdd);
    pushOps(response, level.responseToRemove, level.responseToAdd);
  }
  if (request.length === 0 && response.length === 0) return NO_HEADER_MUTATIONS;
  return Object.freeze({ request: Object.freeze(request), response: Object.freeze(response) });
}

function pushOps(
  out: HeaderOp[],
  toRemove: readonly string[],
  toAdd: readonly { readonly name: string; readonly value: string; readonly append: boolean }[],
): void {
  for (const raw of toRemove) {
    const name = raw.toLowerCase();
    if (isProtectedHeader(name)) continue;
    out.push(Object.freeze({ kind: HEADER_OP_REMOVE, name, value: "", separateFields: false }));
  }
  for (const add of toAdd) {
    const name = add.name.toLowerCase();
    if (isProtectedHeader(name) || add.value === "") continue;
    out.push(
      Object.freeze({
        kind: add.append ? HEADER_OP_APPEND : HEADER_OP_SET,
        name,
        value: add.value,
        separateFields: name === "set-cookie" || name === "cookie",
      }),
    );
  }
}

/**
 * Applies operations to an outgoing header object in place. Allocates only when appending to a
 * header that already has a value (the joined string or the longer array).
 */
export function applyHeaderOps(ops: readonly HeaderOp[], headers: OutgoingHttpHeaders): void {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    switch (op.kind) {
      case HEADER_OP_REMOVE:
        if (headers[op.name] !== undefined) delete headers[op.name];
        break;
      case HEADER_OP_SET:
        headers[op.name] = op.value;
        break;
      case HEADER_OP_APPEND:
        headers[op.name] = appended(headers[op.name], op);
        break;
    }
  }
}

function appended(current: OutgoingHttpHeaders[string], op: HeaderOp): string | string[] {
  if (current === undefined) return op.value;
  // Never mutate an existing array: it may be shared with the incoming request's header object.
  if (Array.isArray(current)) {
    if (current.length === 0) return op.value;
    return [...current, op.value];
  }
  const existing = typeof current === "string" ? current : String(current);
  // Envoy joins inline headers with "," (no space); its header matchers join the same way.
  return op.separateFields ? [existing, op.value] : `${existing},${op.value}`;
}
