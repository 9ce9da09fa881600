/**
 * The HTTP/2 server conformance suite (server-suite.ts) against the sidecar's downstream listener on
 * node:http2's server (nghttp2), PILOTFISH_DOWNSTREAM_H2=node. Where nghttp2 or node:http2 deviates
 * from RFC 9113 / RFC 7541 the case stays as strict as for any stack and is listed here as TODO with
 * what it does instead (docs/h2-conformance.md, "Server suite", keeps the same list).
 */
import { serverConformanceSuite } from "./server-suite.js";

/** node:http2's known deviations as a server, by case id. */
const NODE_DEVIATIONS: Readonly<Record<string, string>> = {};

serverConformanceSuite("node:http2 server (PILOTFISH_DOWNSTREAM_H2=node)", { PILOTFISH_DOWNSTREAM_H2: "node" }, { deviations: NODE_DEVIATIONS });
