/**
 * Response header blocks: RFC 9113 §8.2-8.3 validation and the IncomingHttpHeaders shape node:http2
 * gives its 'response' and 'trailers' listeners, so the router cannot tell the two clients apart.
 *
 * A block that fails validation is a malformed response (§8.1.1): a stream error PROTOCOL_ERROR.
 */
import type { IncomingHttpHeaders } from "node:http2";
import { addField, checkRegularField, type FieldTally, isDigits } from "../../h2/header-fields.js";

/** What a header block turned out to be; `error` is set when it is malformed. */
export interface ParsedBlock extends FieldTally {
  /** Why the block is malformed, "" when it is not. */
  error: string;
  /** :status of a response block, 0 for trailers. */
  status: number;
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
    const why = checkRegularField(name, value, out);
    if (why !== "") return malformed(out, obj, why);
    addField(obj, name, value);
  }
  if (!trailers && out.status === 0) return malformed(out, obj, "missing :status");
  return obj;
}

function malformed(out: ParsedBlock, obj: IncomingHttpHeaders, why: string): IncomingHttpHeaders {
  out.error = why;
  return obj;
}
