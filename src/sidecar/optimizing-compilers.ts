/**
 * Starts V8's optimizing compilers (Maglev and Turbofan) once the sidecar is ready. The CLI starts the
 * serving process without them (STARTUP_NODE_FLAGS in src/cli/node-flags.ts): what runs hot during the
 * start is module loading and config decoding, code that never runs again, and once either compiler
 * has run, its machine code (~9 MiB of node's binary) stays resident. From here on V8 tiers code up as
 * it always does, so the request path is optimized by its first few thousand requests.
 *
 * `v8.setFlagsFromString` after V8 has started is outside node's promise ("behavior is undefined");
 * for these two flags V8 reads them at each tier-up decision, and test/unit/optimizing-compilers.test.ts
 * checks on the node we ship that a hot function is optimized after the switch and not before.
 */
import { setFlagsFromString } from "node:v8";
import { DEFERRED_COMPILERS_ENV, STARTUP_NODE_FLAGS } from "../cli/node-flags.js";
import type { Counter } from "../stats/stats-store.js";

/**
 * Turns Maglev and Turbofan on when the CLI deferred them for this process (it sets
 * DEFERRED_COMPILERS_ENV and STARTUP_NODE_FLAGS); counts it in `started` if given (a worker primary
 * has no stats). Anything else (in-process sidecars, flags chosen with PILOTFISH_NODE_FLAGS) is left
 * as it is.
 */
export function startOptimizingCompilers(started: Counter | undefined): void {
  if (process.env[DEFERRED_COMPILERS_ENV] !== "1") return;
  if (!STARTUP_NODE_FLAGS.every((f) => process.execArgv.includes(f))) return;
  setFlagsFromString("--maglev");
  setFlagsFromString("--turbofan");
  started?.inc();
}
