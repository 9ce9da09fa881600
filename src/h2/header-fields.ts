/**
 * Header field rules shared by request and response blocks (RFC 9113 §8.2) and the IncomingHttpHeaders
 * shape node:http2 gives its listeners, so the router cannot tell our codec from node's.
 */
import type { IncomingHttpHeaders } from "node:http2";

/** Headers node keeps the first value of, dropping repeats (lib/internal/http2/util.js kSingleValueHeaders). */
export const SINGLE_VALUE = new Set([
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

export function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** What the regular fields of one block carry from one field to the next. */
export interface FieldTally {
  /** content-length when present, -1 when absent. */
  contentLength: number;
}

/**
 * Checks one regular (non-pseudo) field of a request or response block, which share these rules (§8.2),
 * and records content-length in `tally`. Returns why the field is malformed, "" when it is not, so the
 * caller builds no error object on the per-field path.
 */
export function checkRegularField(name: string, value: string, tally: FieldTally): string {
  if (!validName(name)) return `bad field name ${JSON.stringify(name)}`;
  if (CONNECTION_SPECIFIC.has(name) || (name === "te" && value !== "trailers")) return `connection-specific field ${name}`;
  if (!validValue(value)) return `bad value for ${name}`;
  if (name === "content-length") {
    // 15 digits stay below 2^53, so Number() is exact.
    if (value.length === 0 || value.length > 15 || !isDigits(value)) return "bad content-length";
    const n = Number(value);
    // Repeats must agree (RFC 9110 §8.6); an equal repeat is harmless and node keeps the first.
    if (tally.contentLength >= 0 && tally.contentLength !== n) return "conflicting content-length values";
    tally.contentLength = n;
  }
  return "";
}

/** Adds one decoded field to node's header object: repeats joined as node joins them. */
export function addField(obj: IncomingHttpHeaders, name: string, value: string): void {
  const existing = obj[name];
  if (existing === undefined) {
    obj[name] = name === "set-cookie" ? [value] : value;
  } else if (!SINGLE_VALUE.has(name)) {
    if (name === "set-cookie") (existing as string[]).push(value);
    else if (name === "cookie") obj[name] = `${existing as string}; ${value}`;
    else obj[name] = `${existing as string}, ${value}`;
  }
}
