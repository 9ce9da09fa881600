/**
 * Statistical checks of the pickers over 100,000 picks (Envoy's least_request_lb_simulation_test in
 * spirit): shares land within 1 percentage point of what the algorithm's maths says.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../../src/common/clock.js";
import type { LbPolicy, LeastRequestConfig } from "../../src/config/model.js";
import { createPicker } from "../../src/lb/load-balancer.js";
import { LeastRequestPicker } from "../../src/lb/least-request.js";
import { Host } from "../../src/upstream/host.js";
import { ManualClock } from "../unit/outlier/manual-clock.js";

const PICKS = 100_000;
const LR: LeastRequestConfig = { choiceCount: 2, activeRequestBias: 1 };

function hosts(weights: number[], active: number[]): Host[] {
  return weights.map((w, i) => {
    const h = new Host({ address: "10.0.0.1", port: 1000 + i }, w, undefined, "UNKNOWN");
    h.activeRequests = active[i];
    h.addedAt = Number.NEGATIVE_INFINITY;
    return h;
  });
}

function shares(policy: LbPolicy, hs: Host[], lr: LeastRequestConfig = LR): number[] {
  const picker = createPicker(policy, hs, lr, seededRandom(42), new ManualClock());
  const counts = new Map<Host, number>();
  for (let i = 0; i < PICKS; i++) {
    const h = picker.pick(undefined)!;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  const out = hs.map((h) => (counts.get(h) ?? 0) / PICKS);
  console.log(`${policy} weights=${hs.map((h) => h.weight).join(",")} active=${hs.map((h) => h.activeRequests).join(",")} → ${out.map((s) => (s * 100).toFixed(2) + "%").join(" ")}`);
  return out;
}

function assertShares(actual: number[], expected: number[]): void {
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < 0.01, `host ${i}: ${(a * 100).toFixed(2)}% vs expected ${(expected[i] * 100).toFixed(2)}%`));
}

void describe("least request over 100,000 picks", () => {
  void test("equal weights, one busy host among three: P2C with replacement → 1/9, 4/9, 4/9", () => {
    // The busy host wins only when both samples are it (1/9); ties between idle hosts go to the first sample.
    assertShares(shares("LEAST_REQUEST", hosts([1, 1, 1], [10, 0, 0])), [1 / 9, 4 / 9, 4 / 9]);
  });

  void test("choice_count 3: the busy host needs three samples of itself (1/27)", () => {
    const s = shares("LEAST_REQUEST", hosts([1, 1, 1], [10, 0, 0]), { choiceCount: 3, activeRequestBias: 1 });
    assert.ok(Math.abs(s[0] - 1 / 27) < 0.01);
    assert.ok(Math.abs(s[1] + s[2] - 26 / 27) < 0.01);
  });

  void test("weighted: weight / (active + 1)^bias", () => {
    // weights 1, 1, 2 with active 0, 3, 1 → 1, 0.25, 1 → 4/9, 1/9, 4/9
    assertShares(shares("LEAST_REQUEST", hosts([1, 1, 2], [0, 3, 1])), [4 / 9, 1 / 9, 4 / 9]);
  });

  void test("weighted with bias 0 is plain weighted random", () => {
    assertShares(shares("LEAST_REQUEST", hosts([1, 2, 3], [5, 0, 9]), { choiceCount: 2, activeRequestBias: 0 }), [1 / 6, 2 / 6, 3 / 6]);
  });

  void test("weighted with bias 2", () => {
    // weights 2, 1, 1 with active 1, 0, 0 → 2/4, 1, 1 → 0.2, 0.4, 0.4
    assertShares(shares("LEAST_REQUEST", hosts([2, 1, 1], [1, 0, 0]), { choiceCount: 2, activeRequestBias: 2 }), [0.2, 0.4, 0.4]);
  });

  void test("controls: round robin and random ignore load", () => {
    assertShares(shares("ROUND_ROBIN", hosts([1, 1, 1], [10, 0, 0])), [1 / 3, 1 / 3, 1 / 3]);
    assertShares(shares("RANDOM", hosts([1, 1, 1], [10, 0, 0])), [1 / 3, 1 / 3, 1 / 3]);
  });
});

void describe("fast failures under least request (dynamic simulation)", () => {
  /**
   * Closed loop: `concurrency` requests always in flight. Hosts 1 and 2 take 10 ms per request; host 0
   * answers RESOURCE_EXHAUSTED at once. Returns host 0's share of picks.
   */
  function failingShare(penalty: boolean): number {
    const clock = new ManualClock();
    const hs = hosts([1, 1, 1], [0, 0, 0]);
    const picker = new LeastRequestPicker(hs, LR, seededRandom(7), clock);
    const counts = [0, 0, 0];
    let picks = 0;
    const issue = (): void => {
      if (picks >= 20_000) return;
      picks++;
      const h = picker.pick(undefined)!;
      const i = hs.indexOf(h);
      counts[i]++;
      h.activeRequests++;
      const latency = i === 0 ? 0.05 : 10;
      clock.setTimeout(() => {
        h.activeRequests--;
        if (i === 0 && penalty) h.recordResult(429, clock.now());
        issue();
      }, latency);
    };
    for (let i = 0; i < 8; i++) issue();
    clock.advance(1_000_000);
    const share = counts[0] / picks;
    console.log(`fast-failing host share, penalty ${penalty ? "on" : "off"}: ${(share * 100).toFixed(2)}%`);
    return share;
  }

  void test("without the penalty the failing host draws most traffic; with it, a trickle", () => {
    const off = failingShare(false);
    const on = failingShare(true);
    assert.ok(off > 0.5, `without penalty: ${off}`);
    // Below P2C's 1/n² floor (1/9) and far below a fair share.
    assert.ok(on < 0.08, `with penalty: ${on}`);
  });
});
