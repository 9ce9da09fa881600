/**
 * The outlier detector with a manual clock: every detector, enforcement, ejection timing with backoff,
 * jitter and decay, max_ejection_percent on clusters of 1, 2, 3 and 10 hosts, and the panic threshold.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OutlierDetectionConfig } from "../../../src/config/model.js";
import { OUTLIER_DEFAULTS } from "../../../src/config/decode/outlier-detection.js";
import { OutlierDetector } from "../../../src/outlier/outlier-detector.js";
import { outlierStats } from "../../../src/outlier/outlier-stats.js";
import { AttemptResult, grpcToHttp, responseResult } from "../../../src/outlier/result.js";
import { StatsStore } from "../../../src/stats/stats-store.js";
import { HealthFlag, Host } from "../../../src/upstream/host.js";
import { fixedRandom, ManualClock } from "./manual-clock.js";

function hosts(n: number): Host[] {
  return Array.from({ length: n }, (_, i) => new Host({ address: "10.0.0.1", port: 1000 + i }, 1, undefined, "UNKNOWN"));
}

function setup(n: number, over: Partial<OutlierDetectionConfig> = {}, random = fixedRandom()) {
  const clock = new ManualClock();
  const store = new StatsStore();
  const config: OutlierDetectionConfig = { ...OUTLIER_DEFAULTS, maxEjectionPercent: 100, ...over };
  const changes: Host[] = [];
  const d = new OutlierDetector(config, outlierStats(store, "c"), clock, random, (h) => changes.push(h));
  const hs = hosts(n);
  d.setHosts(hs);
  d.start();
  const stat = (name: string): number => {
    const s = store.counter(`cluster.c.outlier_detection.${name}`);
    return s.value;
  };
  return { clock, store, d, hs, changes, stat };
}

const ejected = (h: Host): boolean => (h.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0;
const feed = (h: Host, r: number, times: number): void => {
  for (let i = 0; i < times; i++) h.recordResult(r);
};

void describe("gRPC status → HTTP, as Envoy", () => {
  void test("table", () => {
    assert.equal(grpcToHttp(14), 503);
    assert.equal(grpcToHttp(4), 504);
    assert.equal(grpcToHttp(8), 429);
    assert.equal(grpcToHttp(0), 200);
    assert.equal(grpcToHttp(2), 500);
    assert.equal(grpcToHttp(13), 500);
    assert.equal(grpcToHttp(12), 501);
    assert.equal(grpcToHttp(1), 499);
    assert.equal(grpcToHttp(16), 401);
    assert.equal(grpcToHttp(99), 500);
  });
  void test("the grpc-status wins over :status 200; other statuses pass through", () => {
    assert.equal(responseResult(200, "14"), 503);
    assert.equal(responseResult(200, undefined), 200);
    assert.equal(responseResult(502, undefined), 502);
    assert.equal(responseResult(503, "0"), 503);
  });
});

void describe("consecutive detectors", () => {
  void test("consecutive_5xx: five 5xx eject; a success in between resets", () => {
    const { hs, stat } = setup(3);
    feed(hs[0], 500, 4);
    hs[0].recordResult(200);
    feed(hs[0], 500, 4);
    assert.ok(!ejected(hs[0]));
    hs[0].recordResult(500);
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_detected_consecutive_5xx"), 1);
    assert.equal(stat("ejections_enforced_consecutive_5xx"), 1);
    assert.equal(stat("ejections_enforced_total"), 1);
  });

  void test("429 (RESOURCE_EXHAUSTED) is a success and resets the count", () => {
    const { hs } = setup(3);
    feed(hs[0], 503, 4);
    hs[0].recordResult(grpcToHttp(8));
    feed(hs[0], 503, 4);
    assert.ok(!ejected(hs[0]));
  });

  void test("consecutive_gateway_failure is detected but not enforced by default", () => {
    const { hs, stat } = setup(3, { consecutive5xx: 100 });
    feed(hs[0], 503, 5);
    assert.ok(!ejected(hs[0]));
    assert.equal(stat("ejections_detected_consecutive_gateway_failure"), 1);
    assert.equal(stat("ejections_enforced_consecutive_gateway_failure"), 0);
  });

  void test("consecutive_gateway_failure enforced: 502/503/504 count, a 500 resets it", () => {
    const { hs, stat } = setup(3, { consecutive5xx: 100, enforcingConsecutiveGatewayFailure: 100 });
    feed(hs[0], 502, 2);
    hs[0].recordResult(500);
    feed(hs[0], 504, 4);
    assert.ok(!ejected(hs[0]));
    hs[0].recordResult(503);
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_enforced_consecutive_gateway_failure"), 1);
  });

  void test("not split: local-origin failures count as 503/504", () => {
    const { hs } = setup(3);
    feed(hs[0], AttemptResult.LOCAL_CONNECT_FAILED, 2);
    feed(hs[0], AttemptResult.LOCAL_TIMEOUT, 2);
    hs[0].recordResult(AttemptResult.LOCAL_RESET);
    assert.ok(ejected(hs[0]));
  });

  void test("split: local-origin failures go to their own detector; 5xx counts only responses", () => {
    const { hs, stat } = setup(3, { splitExternalLocalOriginErrors: true });
    feed(hs[0], AttemptResult.LOCAL_CONNECT_FAILED, 4);
    feed(hs[0], 500, 4);
    assert.ok(!ejected(hs[0]));
    // A response means the connection worked: it resets the local-origin count.
    feed(hs[0], AttemptResult.LOCAL_RESET, 4);
    assert.ok(!ejected(hs[0]));
    hs[0].recordResult(AttemptResult.LOCAL_TIMEOUT);
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_enforced_consecutive_local_origin_failure"), 1);
    assert.equal(stat("ejections_detected_consecutive_5xx"), 0);
  });

  void test("sidecar-local results (NONE) never count", () => {
    const { hs } = setup(3, { consecutive5xx: 1 });
    feed(hs[0], AttemptResult.NONE, 50);
    assert.ok(!ejected(hs[0]));
  });

  void test("enforcing percentage: 0 detects only, 50 follows the random draw", () => {
    const r = fixedRandom([0.7, 0.2]);
    const { hs, stat } = setup(3, { enforcingConsecutive5xx: 50 }, r);
    feed(hs[0], 500, 5); // draw 0.7 → 70 ≥ 50: not enforced
    assert.ok(!ejected(hs[0]));
    feed(hs[0], 500, 5); // draw 0.2 → 20 < 50: enforced
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_detected_consecutive_5xx"), 2);
    assert.equal(stat("ejections_enforced_consecutive_5xx"), 1);
  });
});

void describe("success rate and failure percentage", () => {
  void test("success rate: {50,100,100,100,100} → threshold 52, the 50% host goes", () => {
    const { hs, clock, d, stat } = setup(5, { successRateRequestVolume: 100, consecutive5xx: 1000 });
    for (let i = 0; i < 100; i++) {
      for (let j = 0; j < 5; j++) hs[j].recordResult(j === 0 && i % 2 === 0 ? 500 : 200);
    }
    clock.advance(10_000);
    assert.ok(Math.abs(d.srNumbers.external.threshold - 52) < 1e-9, String(d.srNumbers.external.threshold));
    assert.ok(ejected(hs[0]));
    assert.ok(hs.slice(1).every((h) => !ejected(h)));
    assert.equal(stat("ejections_enforced_success_rate"), 1);
  });

  void test("success rate needs success_rate_minimum_hosts hosts with enough volume", () => {
    const { hs, clock } = setup(5, { consecutive5xx: 1000 });
    for (let i = 0; i < 100; i++) for (let j = 0; j < 4; j++) hs[j].recordResult(j === 0 ? 500 : 200);
    for (let i = 0; i < 99; i++) hs[4].recordResult(200);
    clock.advance(10_000);
    assert.ok(!ejected(hs[0]));
  });

  void test("only the last interval counts", () => {
    const { hs, clock } = setup(5, { consecutive5xx: 1000 });
    for (let i = 0; i < 100; i++) for (let j = 0; j < 5; j++) hs[j].recordResult(j === 0 ? 500 : 200);
    clock.advance(9_999);
    clock.advance(1); // sweep 1 sees the volume and ejects host 0
    assert.ok(ejected(hs[0]));
  });

  void test("failure percentage (enforced): ≥ threshold failing goes", () => {
    const { hs, clock, stat } = setup(5, { enforcingFailurePercentage: 100, enforcingSuccessRate: 0, consecutive5xx: 1000 });
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < 5; j++) hs[j].recordResult(j === 0 && i < 43 ? 500 : 200); // 86% failing
    }
    clock.advance(10_000);
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_detected_failure_percentage"), 1);
    assert.equal(stat("ejections_enforced_failure_percentage"), 1);
    // 50 requests is under success_rate_request_volume (100): the success-rate detector stays out.
    assert.equal(stat("ejections_detected_success_rate"), 0);
  });

  void test("local-origin success rate in split mode", () => {
    const { hs, clock, stat } = setup(5, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 1000 });
    for (let i = 0; i < 100; i++) {
      for (let j = 0; j < 5; j++) hs[j].recordResult(j === 0 && i % 2 === 0 ? AttemptResult.LOCAL_CONNECT_FAILED : 200);
    }
    clock.advance(10_000);
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_enforced_local_origin_success_rate"), 1);
  });

  void test("local-origin failure percentage in split mode", () => {
    const { hs, clock, stat } = setup(5, {
      splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 1000, enforcingLocalOriginSuccessRate: 0,
      enforcingFailurePercentageLocalOrigin: 100,
    });
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < 5; j++) hs[j].recordResult(j === 0 ? AttemptResult.LOCAL_TIMEOUT : 200);
    }
    clock.advance(10_000);
    assert.ok(ejected(hs[0]));
    assert.equal(stat("ejections_enforced_failure_percentage_local_origin"), 1);
  });
});

void describe("ejection time, backoff, jitter, decay", () => {
  const cfg = { baseEjectionTimeMs: 1000, intervalMs: 100, maxEjectionTimeMs: 3000 };

  void test("back after base × 1, then 2×, 3×, capped at max", () => {
    const { hs, clock, d } = setup(3, cfg);
    const h = hs[0];
    const m = d.monitor(h)!;
    const ejectAndTime = (): number => {
      feed(h, 500, 5);
      assert.ok(ejected(h));
      const start = clock.now();
      while (ejected(h)) clock.advance(100);
      return clock.now() - start;
    };
    assert.equal(ejectAndTime(), 1000);
    assert.equal(m.ejectTimeBackoff, 1);
    assert.equal(ejectAndTime(), 2000);
    assert.equal(ejectAndTime(), 3000);
    assert.equal(ejectAndTime(), 3000);
    // b stops growing once b × base ≥ max + base.
    assert.equal(m.ejectTimeBackoff, 4);
    assert.equal(m.numEjections, 4);
  });

  void test("un-ejection waits for the sweep (rounded up to the interval)", () => {
    const { hs, clock } = setup(3, { baseEjectionTimeMs: 1050, intervalMs: 100 });
    clock.advance(30);
    feed(hs[0], 500, 5);
    clock.advance(1050 - 1 + 70); // t=1149: sweeps at 1100 see 1070 elapsed ≥ 1050
    assert.ok(!ejected(hs[0]));
  });

  void test("jitter: random % (max_ejection_time_jitter + 1) is added", () => {
    const { hs, clock, d } = setup(3, { ...cfg, maxEjectionTimeJitterMs: 1000 }, fixedRandom([0.0, 0.5]));
    feed(hs[0], 500, 5); // draws: enforcement 0.0, jitter 0.5 → floor(0.5 × 1001) = 500
    assert.equal(d.monitor(hs[0])!.jitterMs, 500);
    clock.advance(1400);
    assert.ok(ejected(hs[0]));
    clock.advance(100);
    assert.ok(!ejected(hs[0]));
  });

  void test("decay: each interval in good health after return takes one step off", () => {
    const { hs, clock, d } = setup(3, cfg);
    const m = d.monitor(hs[0])!;
    for (let i = 0; i < 3; i++) {
      feed(hs[0], 500, 5);
      while (ejected(hs[0])) clock.advance(100);
    }
    assert.equal(m.ejectTimeBackoff, 3);
    clock.advance(100);
    assert.equal(m.ejectTimeBackoff, 2);
    clock.advance(200);
    assert.equal(m.ejectTimeBackoff, 0);
    feed(hs[0], 500, 5);
    const start = clock.now();
    while (ejected(hs[0])) clock.advance(100);
    assert.equal(clock.now() - start, 1000);
  });

  void test("un-ejection resets the consecutive counters", () => {
    const { hs, clock } = setup(3, cfg);
    feed(hs[0], 500, 5);
    hs[0].recordResult(500); // while ejected (e.g. a request already in flight)
    clock.advance(1000);
    assert.ok(!ejected(hs[0]));
    feed(hs[0], 500, 4);
    assert.ok(!ejected(hs[0]));
  });

  void test("a passing active health check un-ejects, unless configured not to", () => {
    const a = setup(3, cfg);
    feed(a.hs[0], 500, 5);
    a.d.onActiveHealthCheckSuccess(a.hs[0]);
    assert.ok(!ejected(a.hs[0]));
    assert.equal(a.d.ejected, 0);
    const b = setup(3, { ...cfg, successfulActiveHealthCheckUnejectHost: false });
    feed(b.hs[0], 500, 5);
    b.d.onActiveHealthCheckSuccess(b.hs[0]);
    assert.ok(ejected(b.hs[0]));
  });

  void test("a host that leaves while ejected takes its ejection along", () => {
    const { hs, d, store } = setup(3, cfg);
    feed(hs[0], 500, 5);
    assert.equal(store.gauge("cluster.c.outlier_detection.ejections_active").value, 1);
    d.setHosts(hs.slice(1));
    assert.equal(d.ejected, 0);
    assert.equal(store.gauge("cluster.c.outlier_detection.ejections_active").value, 0);
    assert.equal(hs[0].outlier, undefined);
  });
});

void describe("max_ejection_percent", () => {
  /** Makes every host fail five times in a row; returns how many got ejected. */
  function ejectAll(n: number, over: Partial<OutlierDetectionConfig>): { ejected: number; overflow: number } {
    const s = setup(n, over);
    // 500s: a 503 would also trip the gateway detector and count a second overflow.
    for (const h of s.hs) feed(h, 500, 5);
    return { ejected: s.hs.filter(ejected).length, overflow: s.stat("ejections_overflow") };
  }

  void test("Envoy's default 10 %: clusters under 10 hosts never eject", () => {
    assert.deepEqual(ejectAll(1, { maxEjectionPercent: 10 }), { ejected: 0, overflow: 1 });
    assert.deepEqual(ejectAll(2, { maxEjectionPercent: 10 }), { ejected: 0, overflow: 2 });
    assert.deepEqual(ejectAll(3, { maxEjectionPercent: 10 }), { ejected: 0, overflow: 3 });
    assert.deepEqual(ejectAll(10, { maxEjectionPercent: 10 }), { ejected: 1, overflow: 9 });
  });

  void test("always_eject_one_host: the first ejection always goes through", () => {
    const o = { maxEjectionPercent: 10, alwaysEjectOneHost: true };
    assert.deepEqual(ejectAll(1, o), { ejected: 1, overflow: 0 });
    assert.deepEqual(ejectAll(2, o), { ejected: 1, overflow: 1 });
    assert.deepEqual(ejectAll(3, o), { ejected: 1, overflow: 2 });
    assert.deepEqual(ejectAll(10, o), { ejected: 1, overflow: 9 });
  });

  void test("50 %: counted after the ejection itself", () => {
    const o = { maxEjectionPercent: 50 };
    assert.equal(ejectAll(1, o).ejected, 0);
    assert.equal(ejectAll(2, o).ejected, 1);
    assert.equal(ejectAll(3, o).ejected, 1);
    assert.equal(ejectAll(10, o).ejected, 5);
  });

  void test("an overflowed host is detected again once room frees up", () => {
    const { hs, clock } = setup(3, { maxEjectionPercent: 10, alwaysEjectOneHost: true, baseEjectionTimeMs: 1000, intervalMs: 100 });
    feed(hs[0], 503, 5);
    feed(hs[1], 503, 5);
    assert.ok(ejected(hs[0]) && !ejected(hs[1]));
    clock.advance(1000);
    assert.ok(!ejected(hs[0]));
    feed(hs[1], 503, 5);
    assert.ok(ejected(hs[1]));
  });
});
