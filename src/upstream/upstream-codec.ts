/**
 * Which HTTP/2 client the upstream pools use: the raw frame client ("raw", src/upstream/raw-h2/, the
 * default: 4-5x less CPU per request than node:http2's client, docs/raw-h2-client.md) or node:http2
 * ("node", kept as the fallback). Chosen by PILOTFISH_UPSTREAM_H2, read once, here only, so every pool
 * of a process uses the same one.
 */
import { ErrorCode, PilotfishError } from "../common/errors.js";

export const UPSTREAM_H2_ENV = "PILOTFISH_UPSTREAM_H2";

export type UpstreamH2Codec = "node" | "raw";

let chosen: UpstreamH2Codec | undefined;

/**
 * The codec named by PILOTFISH_UPSTREAM_H2 (unset or empty: "raw"). Throws PF_CONFIG_INVALID naming
 * the variable and value when it is neither; the sidecar command calls this before starting, so a bad
 * value stops startup with exit code 2.
 */
export function upstreamH2Codec(): UpstreamH2Codec {
  if (chosen !== undefined) return chosen;
  const raw = process.env[UPSTREAM_H2_ENV];
  if (raw === undefined || raw === "" || raw === "raw") chosen = "raw";
  else if (raw === "node") chosen = "node";
  else {
    throw new PilotfishError(ErrorCode.CONFIG_INVALID, `${UPSTREAM_H2_ENV} must be "raw" or "node", got ${JSON.stringify(raw)}`);
  }
  return chosen;
}
