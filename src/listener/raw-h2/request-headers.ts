/**
 * Request header blocks of our HTTP/2 server: RFC 9113 §8.3.1 pseudo-header rules, §8.2 field rules,
 * and the IncomingHttpHeaders shape node:http2's server gives its 'stream' listeners, so the
 * connection manager cannot tell the two servers apart.
 *
 * A block that fails validation is a malformed request (§8.1.1): the stream is reset with
 * PROTOCOL_ERROR before it reaches the connection manager.
 */
import type { IncomingHttpHeaders } from "node:http2";
import { addField, checkRegularField, type FieldTally } from "../../h2/header-fields.js";

/** What a request header block turned out to be; `error` is set when it is malformed. */
export interface ParsedRequest extends FieldTally {
  /** Why the block is malformed, "" when it is not. */
  error: string;
}

/** Pseudo-header bits, to catch repeats without a set per request. */
const METHOD = 1;
const SCHEME = 2;
const AUTHORITY = 4;
const PATH = 8;

/**
 * Builds node's header object from decoded `fields` (name, value pairs) and validates them.
 * `trailers`: the block ends the request body, so pseudo-headers are not allowed.
 */
export function toRequestHeaders(fields: readonly string[], trailers: boolean, out: ParsedRequest): IncomingHttpHeaders {
  out.error = "";
  out.contentLength = -1;
  const obj: IncomingHttpHeaders = {};
  let seen = 0;
  let regularSeen = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name.charCodeAt(0) === 58) {
      if (trailers) return malformed(out, obj, `pseudo-header ${name} in trailers`);
      if (regularSeen) return malformed(out, obj, `pseudo-header ${name} after a regular field`);
      const bit = pseudoBit(name);
      if (bit === 0) return malformed(out, obj, `pseudo-header ${name} not allowed in a request`);
      if ((seen & bit) !== 0) return malformed(out, obj, `repeated ${name}`);
      seen |= bit;
      if (bit === PATH && value.length === 0) return malformed(out, obj, "empty :path");
      obj[name] = value;
      continue;
    }
    regularSeen = true;
    const why = checkRegularField(name, value, out);
    if (why !== "") return malformed(out, obj, why);
    addField(obj, name, value);
  }
  if (trailers) return obj;
  if ((seen & METHOD) === 0) return malformed(out, obj, "missing :method");
  // CONNECT (§8.5) would need allow_connect, which the connection manager does not support.
  if (obj[":method"] === "CONNECT") return malformed(out, obj, "CONNECT is not supported");
  if ((seen & (SCHEME | PATH)) !== (SCHEME | PATH)) return malformed(out, obj, "missing :scheme or :path");
  return obj;
}

function pseudoBit(name: string): number {
  switch (name) {
    case ":method":
      return METHOD;
    case ":scheme":
      return SCHEME;
    case ":authority":
      return AUTHORITY;
    case ":path":
      return PATH;
    default:
      return 0;
  }
}

function malformed(out: ParsedRequest, obj: IncomingHttpHeaders, why: string): IncomingHttpHeaders {
  out.error = why;
  return obj;
}
