/**
 * The HTTP/2 client conformance suite (suite.ts) against Http2Pool, i.e. node:http2's client (nghttp2).
 * Where nghttp2 deviates from RFC 9113 / RFC 7541 the case stays as strict as for any pool and is
 * listed here as TODO with what nghttp2 does instead (docs/h2-conformance.md keeps the same list).
 *
 * To run the suite for another pool, add one file beside this one, e.g. h2-client-raw.test.ts:
 *   import { RawH2Pool } from "../../src/upstream/raw-h2-pool.js";
 *   import { conformanceSuite } from "./suite.js";
 *   conformanceSuite("RawH2Pool", (host, cluster, stats) => new RawH2Pool(host, cluster, stats));
 */
import { Http2Pool } from "../../src/upstream/http2-pool.js";
import { conformanceSuite } from "./suite.js";

/** nghttp2's known deviations, by case id. */
const NGHTTP2_DEVIATIONS: Readonly<Record<string, string>> = {
  "6.3-priority-stream-0": "nghttp2: ignores PRIORITY on stream 0 (RFC 9113 deprecates priority signals; it no longer parses them)",
  "7540-5.3.1-priority-self": "nghttp2: ignores a PRIORITY that makes a stream depend on itself",
  "6.7-ping-flagged-ack-ignored": "node:http2: an unsolicited PING ACK is a connection error, GOAWAY(INTERNAL_ERROR)",
  "8.1.1-content-length-long": "node:http2: GOAWAY(INTERNAL_ERROR), a connection error, not RST_STREAM(PROTOCOL_ERROR); the stream is reset either way",
  "8.2.1-value-crlf": "nghttp2: drops the field silently and delivers the rest of the response",
  "8.2.1-value-nul": "nghttp2: drops the field silently and delivers the rest of the response",
};

conformanceSuite("Http2Pool (node:http2)", (host, cluster, stats) => new Http2Pool(host, cluster, stats), { deviations: NGHTTP2_DEVIATIONS });
