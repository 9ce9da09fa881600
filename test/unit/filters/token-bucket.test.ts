/** The local rate limit token bucket and limiter, driven by a manual clock and a scripted Random. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Random } from "../../../src/common/clock.js";
import type { LocalRateLimitConfig } from "../../../src/config/policy-model.js";
import { LocalRateLimiter } from "../../../src/filters/local-ratelimit/local-ratelimit-filter.js";
import { TokenBucket } from "../../../src/filters/local-ratelimit/token-bucket.js";
import { StatsStore } from "../../../src/stats/stats-store.js";
import { ManualClock } from "../outlier/manual-clock.js";

function drain(b: TokenBucket, n: number): boolean[] {
  return Array.from({ length: n }, () => b.tryConsume());
}

void describe("TokenBucket", () => {
  void test("starts full, then refuses until a fill interval passes", () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    assert.deepEqual(drain(b, 4), [true, true, true, false]);
    clock.advance(999);
    assert.equal(b.tryConsume(), false, "no partial refills");
    clock.advance(1);
    assert.deepEqual(drain(b, 2), [true, false]);
  });

  void test("fills tokens_per_fill per interval, capped at max_tokens", () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 100 }, clock);
    drain(b, 5);
    clock.advance(100);
    assert.equal(b.available, 2);
    clock.advance(250); // two more whole intervals, 50 ms carried over
    assert.equal(b.available, 5, "capped");
    drain(b, 5);
    clock.advance(50); // completes the interval that had 50 ms
    assert.equal(b.available, 2);
  });
});

function config(over: Partial<LocalRateLimitConfig> = {}): LocalRateLimitConfig {
  const full = { numerator: 100, denominator: 100 };
  return {
    statPrefix: "t",
    tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
    filterEnabled: full,
    filterEnforced: full,
    status: 429,
    rateLimitedAsResourceExhausted: false,
    ...over,
  };
}

const scripted = (values: number[]): Random => ({ next: () => values.shift() ?? 0 });

void describe("LocalRateLimiter", () => {
  void test("counts enabled / ok / rate_limited / enforced and answers 429 (gRPC: UNAVAILABLE)", () => {
    const store = new StatsStore();
    const l = new LocalRateLimiter(config(), store, new ManualClock(), scripted([]));
    assert.equal(l.check(), undefined);
    const reply = l.check();
    assert.deepEqual(reply && { ...reply }, { httpStatus: 429, grpcStatus: 14, flag: "RL", message: "local_rate_limited" });
    const c = (n: string): number => store.counter(`t.http_local_rate_limit.${n}`).value;
    assert.deepEqual([c("enabled"), c("ok"), c("rate_limited"), c("enforced")], [2, 1, 1, 1]);
  });

  void test("rate_limited_as_resource_exhausted gives gRPC RESOURCE_EXHAUSTED", () => {
    const l = new LocalRateLimiter(config({ rateLimitedAsResourceExhausted: true }), new StatsStore(), new ManualClock(), scripted([]));
    l.check();
    assert.equal(l.check()?.grpcStatus, 8);
  });

  void test("Envoy's defaults (0% enabled) limit nothing and count nothing", () => {
    const store = new StatsStore();
    const off = { numerator: 0, denominator: 100 };
    const l = new LocalRateLimiter(config({ filterEnabled: off, filterEnforced: off }), store, new ManualClock(), scripted([]));
    for (let i = 0; i < 5; i++) assert.equal(l.check(), undefined);
    assert.equal(store.counter("t.http_local_rate_limit.enabled").value, 0);
  });

  void test("enabled but not enforced (shadow mode) counts rate_limited and lets requests pass", () => {
    const store = new StatsStore();
    const l = new LocalRateLimiter(config({ filterEnforced: { numerator: 0, denominator: 100 } }), store, new ManualClock(), scripted([]));
    assert.equal(l.check(), undefined);
    assert.equal(l.check(), undefined);
    assert.equal(store.counter("t.http_local_rate_limit.rate_limited").value, 1);
    assert.equal(store.counter("t.http_local_rate_limit.enforced").value, 0);
  });

  void test("fractional filter_enabled samples with the injected Random", () => {
    const half = { numerator: 5000, denominator: 10_000 };
    const store = new StatsStore();
    const l = new LocalRateLimiter(config({ filterEnabled: half, tokenBucket: undefined }), store, new ManualClock(), scripted([0.49, 0.5, 0.1]));
    l.check();
    l.check();
    l.check();
    assert.equal(store.counter("t.http_local_rate_limit.enabled").value, 2);
  });
});
