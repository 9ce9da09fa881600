/**
 * Gives the startup garbage back to the system once the sidecar is ready: one memory-reducing full GC
 * (V8's "last resort" flavour: the old generation compacted, the young one shrunk, pooled pages
 * released). V8's own memory reducer never ran for an idle sidecar (RSS stayed at 79 MiB for 20 s
 * after start; one such GC took it to 70.5 MiB). Envoy's overload manager has the same idea as an
 * action (`envoy.overload_actions.shrink_heap`: tcmalloc releases its free pages).
 *
 * Only at start, before any request: run again after a burst of traffic, the same GC left the process
 * slower for the next burst (saturation -9 %, CPU per request at a fixed rate +30 %, p99 at 2,000 req/s
 * +2-3 ms in the benchmark; docs/performance.md, "Memory back after start"), since it also throws
 * away compiled code the request path had warmed up.
 */
import { exposedGc, type GcFunction } from "../common/v8-gc.js";
import type { Counter } from "../stats/stats-store.js";

/** Runs the memory-reducing GC when `gc` is exposed (--expose-gc) and counts it in `shrinks`. */
export function shrinkHeap(shrinks: Counter, gc: GcFunction | undefined = exposedGc): void {
  if (gc === undefined) return;
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
  shrinks.inc();
}
