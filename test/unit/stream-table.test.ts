import assert from "node:assert/strict";
import { test } from "node:test";
import { StreamTable } from "../../src/h2/stream-table.js";

interface S {
  readonly id: number;
}

/** A small deterministic PRNG (mulberry32): the sequences are random-looking and repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(table: StreamTable<S>, model: Map<number, S>, probes: number[]): void {
  assert.equal(table.size, model.size);
  assert.deepEqual(
    table.list().map((s) => s.id).sort((a, b) => a - b),
    [...model.keys()].sort((a, b) => a - b),
  );
  for (const id of probes) assert.equal(table.get(id), model.get(id), `get(${id})`);
}

void test("behaves as a Map of streams by id under random opens and closes, long-lived streams included", () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const rand = rng(seed);
    const table = new StreamTable<S>();
    const model = new Map<number, S>();
    let next = 1;
    const open: number[] = [];
    for (let step = 0; step < 20_000; step++) {
      // Mostly short streams at ~40 in flight, and a few that stay open for thousands of ids: they
      // collide with later streams whose ids are a multiple of the capacity away.
      if (open.length === 0 || (rand() < 0.5 && open.length < 40)) {
        const s = { id: next };
        next += 2;
        table.add(s);
        model.set(s.id, s);
        open.push(s.id);
      } else {
        const keepOld = rand() < 0.98 && open.length > 3;
        const i = keepOld ? 3 + Math.floor(rand() * (open.length - 3)) : Math.floor(rand() * open.length);
        const id = open.splice(i, 1)[0];
        assert.equal(table.delete(id), true, `delete(${id})`);
        model.delete(id);
      }
      if (step % 997 === 0) check(table, model, [...open, next, next + 2, 0, 2]);
    }
    check(table, model, [...open, ...Array.from({ length: 50 }, (_, i) => next - 2 * i)]);
  }
});

void test("deleting an absent id changes nothing; probe runs across the array's end stay reachable", () => {
  const table = new StreamTable<S>();
  // Capacity 16 at first: ids 29, 31 and then 61, 63, 93 home to slots 14, 15, 14, 15, 14 and wrap.
  const ids = [29, 31, 61, 63, 93];
  for (const id of ids) table.add({ id });
  assert.equal(table.delete(95), false);
  assert.equal(table.size, 5);
  for (const id of ids) assert.equal(table.get(id)?.id, id);
  // Removing the head of the run must move its successors up, or they become unreachable.
  assert.equal(table.delete(29), true);
  for (const id of [31, 61, 63, 93]) assert.equal(table.get(id)?.id, id, `after delete(29): get(${id})`);
  assert.equal(table.get(29), undefined);
  assert.equal(table.delete(61), true);
  assert.equal(table.delete(93), true);
  assert.deepEqual(table.list().map((s) => s.id).sort((a, b) => a - b), [31, 63]);
});

void test("grows past its initial capacity and keeps every stream", () => {
  const table = new StreamTable<S>();
  for (let id = 1; id < 2 * 5000; id += 2) table.add({ id });
  assert.equal(table.size, 5000);
  for (let id = 1; id < 2 * 5000; id += 2) assert.equal(table.get(id)?.id, id);
  for (let id = 1; id < 2 * 5000; id += 4) assert.equal(table.delete(id), true);
  assert.equal(table.size, 2500);
  for (let id = 3; id < 2 * 5000; id += 4) assert.equal(table.get(id)?.id, id);
  for (let id = 1; id < 2 * 5000; id += 4) assert.equal(table.get(id), undefined);
});

void test("list() is a copy: deleting while walking it visits every stream once", () => {
  const table = new StreamTable<S>();
  for (let id = 1; id <= 41; id += 2) table.add({ id });
  const seen: number[] = [];
  for (const s of table.list()) {
    seen.push(s.id);
    table.delete(s.id);
  }
  assert.equal(seen.length, 21);
  assert.equal(table.size, 0);
});
