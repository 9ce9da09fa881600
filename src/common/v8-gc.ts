/**
 * V8's `gc` function, which `--expose-gc` installs (one of the sidecar's default node flags,
 * src/cli/node-flags.ts); undefined in a process started without it. Two callers: paced scavenges
 * (src/h2/scavenge-pacer.ts) and the heap shrinker (src/sidecar/heap-shrinker.ts).
 */

/** The options V8's gc extension takes: which collector, now or as a task, and whether to reduce memory. */
export interface GcOptions {
  /** "minor": a scavenge of the young generation; "major": a full mark-compact. */
  readonly type: "minor" | "major";
  /** "sync": before the call returns. */
  readonly execution: "sync";
  /** "last-resort": a memory-reducing full GC (compaction, the young generation shrunk, pooled pages freed). */
  readonly flavor?: "regular" | "last-resort";
}

export type GcFunction = (options: GcOptions) => void;

const gc = (globalThis as { gc?: unknown }).gc;

/** `gc`, or undefined when it was not exposed. */
export const exposedGc: GcFunction | undefined = typeof gc === "function" ? (gc as GcFunction) : undefined;
