/**
 * Which HTTP/2 server the listeners use: our own frame server ("raw", src/listener/raw-h2/, the
 * default: node:http2's server half cost more CPU per proxied request than the rest of the proxy,
 * docs/raw-h2-server.md) or node:http2's ("node", kept as the fallback). Chosen by
 * PILOTFISH_DOWNSTREAM_H2, read when a listener is built, so in-process tests can build both kinds.
 */
import { ErrorCode, PilotfishError } from "../common/errors.js";

export const DOWNSTREAM_H2_ENV = "PILOTFISH_DOWNSTREAM_H2";

export type DownstreamH2Codec = "node" | "raw";

/** The default when the variable is unset or empty. */
export const DEFAULT_DOWNSTREAM_H2: DownstreamH2Codec = "raw";

/**
 * The server named by PILOTFISH_DOWNSTREAM_H2. Throws PF_CONFIG_INVALID naming the variable and value
 * when it is neither; the sidecar command calls this before starting, so a bad value stops startup
 * with exit code 2.
 */
export function downstreamH2Codec(): DownstreamH2Codec {
  const v = process.env[DOWNSTREAM_H2_ENV];
  if (v === undefined || v === "") return DEFAULT_DOWNSTREAM_H2;
  if (v === "raw" || v === "node") return v;
  throw new PilotfishError(ErrorCode.CONFIG_INVALID, `${DOWNSTREAM_H2_ENV} must be "raw" or "node", got ${JSON.stringify(v)}`);
}
