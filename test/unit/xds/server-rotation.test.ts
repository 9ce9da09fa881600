/**
 * ServerRotation: which discovery-server endpoint the ADS client dials next and how long it waits.
 * Random is fixed so every backoff delay is exact.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "../../../src/xds/backoff.js";
import { ServerRotation } from "../../../src/xds/server-rotation.js";

/** Random fixed at 1 - ε: each backoff delay is its ceiling (500, 1000, 2000, ... ms). */
const top = { next: () => 0.999999 };

function rotation(targets: string[] | (() => string[])): ServerRotation {
  return new ServerRotation(typeof targets === "function" ? targets : () => targets, new Backoff(500, 30_000, top), 1000);
}

void describe("ServerRotation", () => {
  void it("dials the endpoints in the cluster's order, wrapping around", () => {
    const r = rotation(["a:1", "b:1", "c:1"]);
    assert.equal(r.first(), "a:1");
    assert.deepEqual([1, 2, 3, 4].map(() => r.next(undefined)?.target), ["b:1", "c:1", "a:1", "b:1"]);
    assert.equal(r.current, "b:1");
  });

  void it("replaces a stream that was up for a while at once, and backs off when it broke right away", () => {
    const r = rotation(["a:1", "b:1"]);
    r.first();
    assert.deepEqual(r.next(60_000), { target: "b:1", delayMs: 0 });
    // b accepted the stream and dropped it within the second: backoff, growing.
    assert.deepEqual(r.next(10), { target: "a:1", delayMs: 500 });
    assert.deepEqual(r.next(undefined), { target: "b:1", delayMs: 1000 });
    assert.deepEqual(r.next(undefined), { target: "a:1", delayMs: 2000 });
    // A response resets the backoff (as Envoy's GrpcStream does).
    r.healthy();
    assert.deepEqual(r.next(undefined), { target: "b:1", delayMs: 500 });
  });

  void it("with one endpoint (a Service address) also reconnects at once after a healthy stream", () => {
    const r = rotation(["svc:18000"]);
    r.first();
    assert.deepEqual(r.next(5000), { target: "svc:18000", delayMs: 0 });
    assert.deepEqual(r.next(undefined), { target: "svc:18000", delayMs: 500 });
  });

  void it("follows a changing endpoint list, and has nothing to dial when it is empty", () => {
    let list = ["a:1", "b:1"];
    const r = rotation(() => list);
    r.first();
    list = ["c:1", "a:1"];
    assert.equal(r.next(undefined)?.target, "c:1", "after a:1 (now second) comes the first");
    list = ["d:1"];
    assert.equal(r.next(undefined)?.target, "d:1", "an endpoint no longer listed starts over");
    list = [];
    assert.equal(r.next(undefined), undefined);
    assert.equal(rotation([]).first(), undefined);
  });
});
