/** Least request details: exclusion on retries, the failure penalty's decay, slow start. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../../../src/common/clock.js";
import { LeastRequestPicker } from "../../../src/lb/least-request.js";
import { FAILURE_PENALTY_HALF_LIFE_MS, Host } from "../../../src/upstream/host.js";
import { ManualClock } from "../outlier/manual-clock.js";

function hosts(n: number, addedAt = Number.NEGATIVE_INFINITY): Host[] {
  return Array.from({ length: n }, (_, i) => {
    const h = new Host({ address: "10.0.0.1", port: 1000 + i }, 1, undefined, "UNKNOWN");
    h.addedAt = addedAt;
    return h;
  });
}

void describe("least request picker", () => {
  void test("a retry avoids the hosts already tried", () => {
    const hs = hosts(3);
    const p = new LeastRequestPicker(hs, { choiceCount: 2, activeRequestBias: 1 }, seededRandom(1), new ManualClock());
    for (let i = 0; i < 200; i++) {
      const h = p.pick([hs[0], hs[1]]);
      assert.equal(h, hs[2]);
    }
  });

  void test("the failure penalty counts one request per failure and halves every half-life", () => {
    const [h] = hosts(1);
    h.recordResult(429, 1000);
    h.recordResult(503, 1000);
    assert.equal(h.load(1000), 2);
    assert.ok(Math.abs(h.load(1000 + FAILURE_PENALTY_HALF_LIFE_MS) - 1) < 1e-9);
    h.activeRequests = 3;
    assert.ok(Math.abs(h.load(1000 + 2 * FAILURE_PENALTY_HALF_LIFE_MS) - 3.5) < 1e-9);
    // Successes and 4xx other than 429 carry no penalty; it fades away entirely.
    const [g] = hosts(1);
    g.recordResult(200, 0);
    g.recordResult(404, 0);
    assert.equal(g.penalized, false);
    assert.equal(h.failurePenalty(1000 + 20 * FAILURE_PENALTY_HALF_LIFE_MS), 0);
    assert.equal(h.penalized, false);
  });

  void test("local-origin failures (negative results) are penalized too", () => {
    const [h] = hosts(1);
    h.recordResult(-1, 0);
    assert.equal(h.load(0), 1);
  });

  void test("slow start: weight ramps from min_weight_percent to full over the window", () => {
    const clock = new ManualClock();
    const old = hosts(1)[0];
    const fresh = hosts(1, 0)[0];
    const p = new LeastRequestPicker([old, fresh], { choiceCount: 2, activeRequestBias: 1, slowStart: { windowMs: 1000, aggression: 1, minWeightPercent: 10 } }, seededRandom(3), clock);
    assert.equal(p.slowStartFactor(old, 0), 1);
    assert.equal(p.slowStartFactor(fresh, 0), 0.1);
    assert.equal(p.slowStartFactor(fresh, 500), 0.5);
    assert.equal(p.slowStartFactor(fresh, 1000), 1);
    const count = (): number => {
      let n = 0;
      for (let i = 0; i < 10_000; i++) if (p.pick(undefined) === fresh) n++;
      return n / 10_000;
    };
    clock.advance(50); // factor 0.1 → 0.1 / 1.1 ≈ 9 %
    assert.ok(Math.abs(count() - 0.1 / 1.1) < 0.02);
    clock.advance(450); // factor 0.5 → 1/3
    assert.ok(Math.abs(count() - 1 / 3) < 0.02);
    clock.advance(500); // over: plain P2C between two idle hosts → 1/2
    assert.ok(Math.abs(count() - 0.5) < 0.02);
  });

  void test("slow start aggression 2: sqrt ramp", () => {
    const fresh = hosts(1, 0)[0];
    const p = new LeastRequestPicker([fresh], { choiceCount: 2, activeRequestBias: 1, slowStart: { windowMs: 1000, aggression: 2, minWeightPercent: 10 } }, seededRandom(3), new ManualClock());
    assert.ok(Math.abs(p.slowStartFactor(fresh, 250) - 0.5) < 1e-9);
  });
});
