/**
 * V8 flags for the sidecar, applied by re-executing the process image once (process.execve keeps
 * the pid, stdio and environment) because heap sizes are fixed when V8 starts.
 *
 * `--max-semi-space-size=4`: nearly every per-request object dies young, and the tail latency of a
 * Node proxy is scavenge pauses. Node 24's default young generation is twice Node 20's: a bare
 * node:http2 proxy peaks at ~230 MiB RSS with it and ~100 MiB with 4 MiB semi-spaces, and its p99 at
 * 2,000 req/s drops from +26–48 ms to +5–16 ms (perf-anchors), at equal or better throughput.
 * Numbers for Pilotfish: docs/performance.md, "V8 flags".
 *
 * `--expose-gc`: the one way for JavaScript to ask V8 for a scavenge; our HTTP/2 connections run one
 * every 16 MiB read, so that node's read buffers are freed young instead of piling up until a full
 * mark-compact (src/h2/scavenge-pacer.ts). It installs a global `gc` function; nothing else calls it.
 *
 * `--heap-growing-percent=200`: the old generation may grow to 3x what a mark-compact left live before
 * the next one starts. The sidecar's live heap is small (~10 MB), and with V8's own factor the limit
 * sat ~12 MB above it, no more than the young generation can promote, so incremental marking started
 * again right after each mark-compact: a bulk stream ran one every 20-30 ms. With 3x: 5-7 instead of
 * 70-180 in 6 s, +15-45 % calls/s in that scenario, no change in RSS or in small-request throughput
 * (docs/performance.md, "Old-generation headroom").
 *
 * Not `--heap-growing-percent=50`: it cuts peak RSS under load by ~45 MiB but costs ~15 % of the
 * throughput and doubles the saturated p99 (more mark-compacts); docs/performance.md, "Memory under load".
 *
 * `--no-maglev --no-turbofan`, for the start only: loading ~240 modules and decoding the bootstrap run
 * some functions (node's module resolution, path handling) often enough for V8 to optimize them, code
 * that never runs again; the compilers' own machine code (~9 MiB of node's binary) then stays resident
 * in a sidecar that has served nothing. The sidecar starts both compilers once it is ready
 * (src/sidecar/optimizing-compilers.ts), so the request path is optimized as before: idle RSS
 * 67 -> 58 MiB (docs/performance.md, "Memory at idle").
 *
 * `PILOTFISH_NODE_FLAGS` replaces the list, the start-only flags included (empty: run with node's defaults).
 */

/** The flags the sidecar runs with unless PILOTFISH_NODE_FLAGS says otherwise. */
export const DEFAULT_SIDECAR_NODE_FLAGS = ["--max-semi-space-size=4", "--expose-gc", "--heap-growing-percent=200"];

/** Flags for the start only, lifted once the sidecar is ready (with the default flags only). */
export const STARTUP_NODE_FLAGS = ["--no-maglev", "--no-turbofan"];

const APPLIED_ENV = "PILOTFISH_NODE_FLAGS_APPLIED";

/** Set in the re-executed image when STARTUP_NODE_FLAGS were added; inherited by forked workers. */
export const DEFERRED_COMPILERS_ENV = "PILOTFISH_DEFERRED_COMPILERS";

/**
 * Re-executes this process with the sidecar's node flags, unless they are in force already; `env` is
 * added to the new image's environment (the bootstrap's handoff). Returns only when no re-exec happened.
 */
export function ensureSidecarNodeFlags(env: Readonly<Record<string, string>> = {}): void {
  if (process.env[APPLIED_ENV] === "1") return;
  const custom = process.env.PILOTFISH_NODE_FLAGS;
  const flags = custom !== undefined ? custom.split(/\s+/).filter((f) => f !== "") : [...DEFAULT_SIDECAR_NODE_FLAGS, ...STARTUP_NODE_FLAGS];
  const missing = flags.filter((f) => !process.execArgv.includes(f));
  if (missing.length === 0 || typeof process.execve !== "function") return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    ...env,
    [APPLIED_ENV]: "1",
    ...(custom === undefined ? { [DEFERRED_COMPILERS_ENV]: "1" } : {}),
  });
}
