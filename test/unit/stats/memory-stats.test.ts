/**
 * Gauges sampled on read (StatsStore.onRead) and the three memory gauges built on it
 * (src/stats/memory-stats.ts), checked against this process's own /proc figures.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { addMemoryGauges } from "../../../src/stats/memory-stats.js";
import { StatsStore } from "../../../src/stats/stats-store.js";

void test("an onRead update runs before every render and snapshot, so a sampled gauge is current in each", () => {
  const store = new StatsStore();
  const g = store.gauge("server.sampled");
  let reads = 0;
  store.onRead(() => (g.value = ++reads));
  assert.match(store.renderText(), /^server\.sampled: 1$/m);
  assert.deepEqual(store.renderJson().stats.find((s) => s.name === "server.sampled"), { name: "server.sampled", value: 2 });
  assert.match(store.renderPrometheus(), /^envoy_server_sampled 3$/m);
  assert.deepEqual(store.snapshot().gauges, [["server.sampled", 4]]);
});

void test("the memory gauges hold this process's RSS, V8 heap size and allocated bytes when read", () => {
  const store = new StatsStore();
  addMemoryGauges(store);
  const values = new Map(store.renderJson().stats.map((s) => [s.name, s.value]));
  const vmRssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
  const rss = values.get("server.memory_physical_size")!;
  // Read microseconds apart: the same figure up to what this test allocates in between.
  assert.ok(Math.abs(rss - vmRssKiB * 1024) < 8 * 1024 * 1024, `memory_physical_size ${rss} vs VmRSS ${vmRssKiB} KiB`);
  const heap = values.get("server.memory_heap_size")!;
  const allocated = values.get("server.memory_allocated")!;
  assert.ok(heap > 1024 * 1024 && heap < rss, `memory_heap_size ${heap} (rss ${rss})`);
  assert.ok(allocated > 1024 * 1024 && allocated < rss, `memory_allocated ${allocated} (rss ${rss})`);
  // A 32 MiB Buffer is external memory V8 accounts to the process: the next read must include it.
  const big = Buffer.alloc(32 * 1024 * 1024, 1);
  const after = new Map(store.renderJson().stats.map((s) => [s.name, s.value]));
  assert.ok(after.get("server.memory_allocated")! >= allocated + big.length - 1024 * 1024, "a new Buffer is not in memory_allocated");
  assert.ok(after.get("server.memory_physical_size")! >= rss + big.length / 2, "a touched 32 MiB Buffer is not in memory_physical_size");
});
