import assert from "node:assert/strict";
import { test } from "node:test";
import type { GcOptions } from "../../src/common/v8-gc.js";
import { shrinkHeap } from "../../src/sidecar/heap-shrinker.js";
import { StatsStore } from "../../src/stats/stats-store.js";

void test("asks V8 for one memory-reducing full GC and counts it", () => {
  const calls: GcOptions[] = [];
  const counter = new StatsStore().counter("server.heap_shrinks");
  shrinkHeap(counter, (o) => calls.push(o));
  assert.deepEqual(calls, [{ type: "major", execution: "sync", flavor: "last-resort" }]);
  assert.equal(counter.value, 1);
});

void test("without gc (no --expose-gc) it does nothing and counts nothing", () => {
  const counter = new StatsStore().counter("server.heap_shrinks");
  shrinkHeap(counter, undefined);
  assert.equal(counter.value, 0);
});
