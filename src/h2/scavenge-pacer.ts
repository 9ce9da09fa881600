/**
 * Scavenges paced by the bytes our HTTP/2 connections read. Node hands every socket read to
 * JavaScript in a new buffer (64 KiB when the socket is busy), whose memory lives outside V8's heap
 * until a GC finds the buffer dead. Scavenges come from allocation on the JS heap, and a proxy that
 * moves bulk data allocates little there per byte, so those buffers pile up until V8's
 * external-memory limit starts a full mark-compact: a 1 MiB-message stream at ~850 MB/s ran one every
 * ~30 ms (~15 % of the proxy's CPU) with ~50 MiB of dead read buffers resident. A scavenge every
 * PACE_BYTES read frees the dead ones young, for ~50 µs each (docs/performance.md, "Scavenges paced
 * by bytes read").
 *
 * V8 lets JavaScript ask for a GC only through `gc`, which `--expose-gc` installs: the sidecar's
 * default node flags include it (src/cli/node-flags.ts). Without it (PILOTFISH_NODE_FLAGS without
 * that flag, or our connections used outside the sidecar) nothing is paced.
 */

import { exposedGc } from "../common/v8-gc.js";

/** Bytes read between two paced scavenges. */
export const PACE_BYTES = 16 * 1024 * 1024;

const scavenge = exposedGc;

/** Whether reads pace scavenges in this process (`gc` was exposed). */
export const pacing = scavenge !== undefined;

let readSince = 0;

/**
 * `n` bytes were read from a socket; runs a scavenge once PACE_BYTES have been read since the last.
 * Called at the start of a read's parsing, before it allocates anything of its own.
 */
export function noteRead(n: number): void {
  readSince += n;
  if (readSince < PACE_BYTES || scavenge === undefined) return;
  readSince = 0;
  scavenge({ type: "minor", execution: "sync" });
}
