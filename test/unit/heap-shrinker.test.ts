import assert from "node:assert/strict";
import { test } from "node:test";
import type { GcOptions } from "../../src/common/v8-gc.js";
import { HeapShrinker, SHRINK_CHECK_MS } from "../../src/sidecar/heap-shrinker.js";
import { StatsStore } from "../../src/stats/stats-store.js";
import { ManualClock } from "./outlier/manual-clock.js";

function setup(): { shrinker: HeapShrinker; clock: ManualClock; calls: GcOptions[]; traffic: { n: number }; shrinks: () => number } {
  const clock = new ManualClock();
  const calls: GcOptions[] = [];
  const traffic = { n: 0 };
  const stats = new StatsStore();
  const counter = stats.counter("server.heap_shrinks");
  const shrinker = new HeapShrinker(() => traffic.n, counter, clock, (o) => calls.push(o));
  return { shrinker, clock, calls, traffic, shrinks: () => counter.value };
}

void test("shrinks once at start, then once after each burst of traffic, on the first quiet interval", () => {
  const { shrinker, clock, calls, traffic, shrinks } = setup();
  shrinker.start();
  assert.deepEqual(calls, [{ type: "major", execution: "sync", flavor: "last-resort" }], "the startup garbage");
  clock.advance(5 * SHRINK_CHECK_MS);
  assert.equal(calls.length, 1, "idle from the start: nothing more to give back");
  // Traffic for three intervals: no GC while it lasts.
  for (let i = 0; i < 3; i++) {
    traffic.n += 100;
    clock.advance(SHRINK_CHECK_MS);
  }
  assert.equal(calls.length, 1, "never during traffic");
  clock.advance(SHRINK_CHECK_MS);
  assert.equal(calls.length, 2, "the first quiet interval after traffic");
  clock.advance(10 * SHRINK_CHECK_MS);
  assert.equal(calls.length, 2, "once per burst");
  traffic.n += 1;
  clock.advance(2 * SHRINK_CHECK_MS);
  assert.equal(calls.length, 3);
  assert.equal(shrinks(), 3, "server.heap_shrinks counts them");
  shrinker.stop();
  traffic.n += 1;
  clock.advance(5 * SHRINK_CHECK_MS);
  assert.equal(calls.length, 3, "stopped: no timer left");
});

void test("without gc (no --expose-gc) it does nothing and counts nothing", () => {
  const clock = new ManualClock();
  const stats = new StatsStore();
  const counter = stats.counter("server.heap_shrinks");
  let n = 0;
  const shrinker = new HeapShrinker(() => n, counter, clock, undefined);
  shrinker.start();
  n = 5;
  clock.advance(3 * SHRINK_CHECK_MS);
  shrinker.stop();
  assert.equal(counter.value, 0);
});
