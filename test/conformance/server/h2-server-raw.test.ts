/**
 * The HTTP/2 server conformance suite (server-suite.ts) against the sidecar's own frame server,
 * PILOTFISH_DOWNSTREAM_H2=raw. No deviations: the raw server is held to every case.
 */
import { serverConformanceSuite } from "./server-suite.js";

serverConformanceSuite("raw frame server (PILOTFISH_DOWNSTREAM_H2=raw)", { PILOTFISH_DOWNSTREAM_H2: "raw" });
