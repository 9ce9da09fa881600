/**
 * Request header blocks of our HTTP/2 server: RFC 9113 §8.3.1 pseudo-header rules, §8.2 field rules,
 * and the IncomingHttpHeaders shape node:http2's server gives its 'stream' listeners, so the
 * connection manager cannot tell the two servers apart.
 *
 * A block that fails validation is a malformed request (§8.1.1): the stream is reset with
 * PROTOCOL_ERROR before it reaches the connection manager.
 */
import type { IncomingHttpHeaders } from "node:http2";
import { addField, CONNECTION_SPECIFIC, isDigits, validName, validValue } from "../../h2/header-fields.js";

/** What a request header block turned out to be; `error` is set when it is malformed. */
export interface ParsedRequest {
  /** Why the block is malformed, "" when it is not. */
  error: string;
  /** content-length when present, -1 when absent. */
  contentLength: number;
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
    if (!validName(name)) return malformed(out, obj, `bad field name ${JSON.stringify(name)}`);
    if (CONNECTION_SPECIFIC.has(name) || (name === "te" && value !== "trailers")) {
      return malformed(out, obj, `connection-specific field ${name}`);
    }
    if (!validValue(value)) return malformed(out, obj, `bad value for ${name}`);
    if (name === "content-length") {
      if (value.length === 0 || value.length > 15 || !isDigits(value)) return malformed(out, obj, "bad content-length");
      const n = Number(value);
      if (out.contentLength >= 0 && out.contentLength !== n) return malformed(out, obj, "conflicting content-length values");
      out.contentLength = n;
    }
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
