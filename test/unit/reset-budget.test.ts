/** The rapid-reset token bucket, on an injected clock. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ResetBudget } from "../../src/listener/raw-h2/reset-budget.js";

void describe("ResetBudget", () => {
  void it("allows a burst, then refills at the rate, never above the burst", () => {
    let now = 1000;
    const b = new ResetBudget(5, 2, () => now);
    for (let i = 0; i < 5; i++) assert.equal(b.take(), true, `reset ${i}`);
    assert.equal(b.take(), false);
    now += 499; // less than one token's worth at 2/s
    assert.equal(b.take(), false);
    now += 1; // 500 ms since the last refill point: one token
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    now += 60_000; // a long pause refills only up to the burst
    for (let i = 0; i < 5; i++) assert.equal(b.take(), true);
    assert.equal(b.take(), false);
  });
});
