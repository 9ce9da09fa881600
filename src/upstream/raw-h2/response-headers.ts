/**
 * Response header blocks: RFC 9113 §8.2-8.3 validation and the IncomingHttpHeaders shape node:http2
 * gives its 'response' and 'trailers' listeners, so the router cannot tell the two clients apart.
 *
 * A block that fails validation is a malformed response (§8.1.1): a stream error PROTOCOL_ERROR.
 */
import type { IncomingHttpHeaders } from "node:http2";

/** Headers node keeps the first value of, dropping repeats (lib/internal/http2/util.js kSingleValueHeaders). */
const SINGLE_VALUE = new Set([
  ":status",
  "access-control-allow-credentials",
  "access-control-max-age",
  "access-control-request-method",
  "age",
  "authorization",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-md5",
  "content-range",
  "content-type",
  "date",
  "dnt",
  "etag",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "range",
  "referer",
  "retry-after",
  "tk",
  "upgrade-insecure-requests",
  "user-agent",
  "x-content-type-options",
]);

/** Fields that only mean something on one hop and are malformed in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** tchar (RFC 9110 §5.6.2) minus upper case: what a field name may contain in HTTP/2. */
const NAME_OK = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_OK[c.charCodeAt(0)] = 1;

function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_OK[c] === 0) return false;
  }
  return true;
}

/** No NUL, CR or LF anywhere, and no leading or trailing space or tab (§8.2.1). */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

/** What a header block turned out to be; `error` is set when it is malformed. */
export interface ParsedBlock {
  /** Why the block is malformed, "" when it is not. */
  error: string;
  /** :status of a response block, 0 for trailers. */
  status: number;
  /** content-length when present, -1 when absent. */
  contentLength: number;
}

/**
 * Builds node's header object from decoded `fields` (name, value pairs) and validates them. `trailers`:
 * the block ends a response, so pseudo-headers are not allowed at all.
 */
export function toHeaders(fields: readonly string[], trailers: boolean, out: ParsedBlock): IncomingHttpHeaders {
  out.error = "";
  out.status = 0;
  out.contentLength = -1;
  const obj: IncomingHttpHeaders = {};
  let regularSeen = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name.charCodeAt(0) === 58) {
      if (trailers) return malformed(out, obj, `pseudo-header ${name} in trailers`);
      if (regularSeen) return malformed(out, obj, `pseudo-header ${name} after a regular field`);
      if (name !== ":status") return malformed(out, obj, `pseudo-header ${name} in a response`);
      if (out.status !== 0) return malformed(out, obj, "repeated :status");
      if (value.length !== 3 || !isDigits(value)) return malformed(out, obj, `bad :status ${JSON.stringify(value)}`);
      out.status = Number(value);
      obj[":status"] = out.status as unknown as string;
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
    const existing = obj[name];
    if (existing === undefined) {
      obj[name] = name === "set-cookie" ? [value] : value;
    } else if (!SINGLE_VALUE.has(name)) {
      if (name === "set-cookie") (existing as string[]).push(value);
      else if (name === "cookie") obj[name] = `${existing as string}; ${value}`;
      else obj[name] = `${existing as string}, ${value}`;
    }
  }
  if (!trailers && out.status === 0) return malformed(out, obj, "missing :status");
  return obj;
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function malformed(out: ParsedBlock, obj: IncomingHttpHeaders, why: string): IncomingHttpHeaders {
  out.error = why;
  return obj;
}
