/**
 * The sidecar's bootstrap, handed from the process image that read and validated it to the image that
 * serves. The sidecar re-executes itself for its V8 flags (node-flags.ts), and its workers are forked
 * processes: with the bootstrap's proto wire bytes in the environment, those images decode them with the
 * generated code alone and never load the YAML parser, the reflected proto schema (protobufjs) or the
 * CLI parser, which stay in a process's heap and code pages for its whole life once loaded (~10 MiB of
 * RSS; docs/performance.md, "Memory at idle").
 *
 * Read once at startup, never on the request path, and removed from the environment when taken, so
 * nothing the sidecar starts later inherits it by accident.
 */

/** The environment variable that carries the handoff (JSON). */
export const HANDOFF_ENV = "PILOTFISH_SIDECAR_HANDOFF";

/**
 * Larger bootstraps are not handed over: Linux limits one environment string to 128 KiB, and base64
 * grows the bytes by a third. The serving image then reads the file again, as it would without this.
 */
const MAX_HANDOFF_BYTES = 64 * 1024;

/** What the serving image needs to start: the command's options and the validated bootstrap. */
export interface SidecarHandoff {
  /** The bootstrap file, for messages and for workers' arguments. */
  readonly file: string;
  /** --concurrency. */
  readonly concurrency: number;
  /** envoy.config.bootstrap.v3.Bootstrap wire bytes, already validated. */
  readonly wire: Uint8Array;
}

/** The environment entry that hands `h` over, or none when the bootstrap is too large to carry. */
export function handoffEnv(h: SidecarHandoff): Record<string, string> {
  if (h.wire.length > MAX_HANDOFF_BYTES) return {};
  const bootstrap = Buffer.from(h.wire.buffer, h.wire.byteOffset, h.wire.byteLength).toString("base64");
  return { [HANDOFF_ENV]: JSON.stringify({ file: h.file, concurrency: h.concurrency, bootstrap }) };
}

/**
 * The handoff this process was started with, removed from the environment; undefined when there is
 * none. A malformed one (not written by handoffEnv) is an error naming the variable.
 */
export function takeHandoff(): SidecarHandoff | undefined {
  const raw = process.env[HANDOFF_ENV];
  if (raw === undefined) return undefined;
  delete process.env[HANDOFF_ENV];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  const o = v as { file?: unknown; concurrency?: unknown; bootstrap?: unknown } | undefined;
  if (
    typeof o !== "object" || o === null ||
    typeof o.file !== "string" ||
    typeof o.concurrency !== "number" || !Number.isInteger(o.concurrency) || o.concurrency < 1 ||
    typeof o.bootstrap !== "string"
  ) {
    throw new Error(`${HANDOFF_ENV} is not a handoff of a pilotfish sidecar (unset it to start normally)`);
  }
  return { file: o.file, concurrency: o.concurrency, wire: Buffer.from(o.bootstrap, "base64") };
}
