/**
 * Envoy's process memory gauges, sampled when the stats are read (admin `/stats`, Prometheus, a worker
 * primary's aggregation) rather than on a timer: an idle sidecar does no work for them.
 *
 * Envoy reads tcmalloc; the nearest figures node has are V8's (`process.memoryUsage()`):
 * - `server.memory_allocated`: bytes in use, the V8 heap's live objects plus the external memory
 *   they own (Buffers, ArrayBuffers);
 * - `server.memory_heap_size`: bytes V8 has reserved for its heap, free space included;
 * - `server.memory_physical_size`: the resident set (RSS), what the benchmark's memory rows and a
 *   container's memory limit count.
 * With workers, the primary's `/stats` sums the workers' values (the primary's own are not in it).
 */
import type { StatsStore } from "./stats-store.js";

/** Adds the three memory gauges to `store`, refreshed on each read. */
export function addMemoryGauges(store: StatsStore): void {
  const allocated = store.gauge("server.memory_allocated");
  const heapSize = store.gauge("server.memory_heap_size");
  const physical = store.gauge("server.memory_physical_size");
  store.onRead(() => {
    const m = process.memoryUsage();
    allocated.value = m.heapUsed + m.external;
    heapSize.value = m.heapTotal;
    physical.value = m.rss;
  });
}
