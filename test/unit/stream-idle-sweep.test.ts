import assert from "node:assert/strict";
import { test } from "node:test";
import { StreamIdleSweep, type IdleTracked } from "../../src/listener/stream-idle-sweep.js";

class Call implements IdleTracked<Call> {
  activeAt = 0;
  idlePrev: Call | null = null;
  idleNext: Call | null = null;
  constructor(readonly name: string) {}
}

function names(sweep: StreamIdleSweep<Call>, first: Call | null): string[] {
  // Walk from a known member back to the head, then forward: the list must be consistent both ways.
  let c = first;
  while (c?.idlePrev) c = c.idlePrev;
  const out: string[] = [];
  for (; c !== null; c = c.idleNext) {
    if (c.idleNext !== null) assert.equal(c.idleNext.idlePrev, c, `back link of ${c.idleNext.name}`);
    out.push(c.name);
  }
  assert.equal(out.length, sweep.size);
  return out.sort();
}

void test("tracks and untracks calls in any order; an untracked call keeps no links", (t) => {
  const idled: string[] = [];
  const sweep = new StreamIdleSweep<Call>(60_000, (c) => idled.push(c.name));
  t.after(() => {
    for (const c of [a, b, d]) sweep.untrack(c);
  });
  const [a, b, d] = [new Call("a"), new Call("b"), new Call("d")];
  sweep.track(a);
  sweep.track(b);
  sweep.track(d);
  assert.deepEqual(names(sweep, a), ["a", "b", "d"]);
  sweep.untrack(b);
  assert.equal(b.idlePrev, null);
  assert.equal(b.idleNext, null);
  assert.deepEqual(names(sweep, a), ["a", "d"]);
  sweep.untrack(b); // twice: no effect
  assert.equal(sweep.size, 2);
  sweep.untrack(d); // the head
  assert.deepEqual(names(sweep, a), ["a"]);
  sweep.untrack(a);
  assert.equal(sweep.size, 0);
  assert.deepEqual([a.idlePrev, a.idleNext, d.idlePrev, d.idleNext], [null, null, null, null]);
  assert.deepEqual(idled, []);
});

void test("a sweep idles out exactly the calls quiet for longer than the timeout, once each", (t) => {
  const idled: string[] = [];
  const sweep = new StreamIdleSweep<Call>(60_000, (c) => {
    idled.push(c.name);
    sweep.untrack(c); // what the router does when the reset settles the call: must be harmless
  });
  const calls = ["q1", "busy", "q2", "q3"].map((n) => new Call(n));
  for (const c of calls) sweep.track(c);
  t.after(() => {
    for (const c of calls) sweep.untrack(c);
  });
  for (const c of calls) if (c.name !== "busy") c.activeAt = -1e9;
  sweep.run();
  assert.deepEqual(idled.sort(), ["q1", "q2", "q3"]);
  assert.equal(sweep.size, 1);
  assert.deepEqual(names(sweep, calls[1]), ["busy"]);
  sweep.run();
  assert.equal(idled.length, 3);
});

void test("a disabled sweep (timeout 0) tracks nothing", () => {
  const sweep = new StreamIdleSweep<Call>(0, () => assert.fail("no sweep when disabled"));
  const c = new Call("x");
  sweep.track(c);
  assert.equal(sweep.size, 0);
  assert.equal(c.idleNext, null);
  sweep.untrack(c);
  assert.equal(sweep.size, 0);
});
