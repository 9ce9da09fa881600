/**
 * Ejection reaches the picker through the cluster: ejected hosts are skipped, the panic threshold
 * (default 50 %) balances over every host when too few are left, and 0 disables panic (no host → UH).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../../../src/common/clock.js";
import { decodeCluster } from "../../../src/config/decode/cluster.js";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { Cluster as PbCluster } from "../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { StatsStore } from "../../../src/stats/stats-store.js";
import { Cluster } from "../../../src/upstream/cluster.js";
import type { Host } from "../../../src/upstream/host.js";
import { ManualClock } from "./manual-clock.js";

const addr = (port: number) => ({
  endpoint: { address: { address: { $case: "socketAddress" as const, value: { address: "127.0.0.1", portSpecifier: { $case: "portValue" as const, value: port } } } } },
});

function cluster(n: number, panicThreshold: number | undefined, lbPolicy = 0) {
  const errors = new Errors();
  const config = decodeCluster(
    PbCluster.fromPartial({
      name: "c",
      lbPolicy,
      loadAssignment: { clusterName: "c", endpoints: [{ lbEndpoints: Array.from({ length: n }, (_, i) => addr(20000 + i)) }] },
      outlierDetection: { maxEjectionPercent: 100, baseEjectionTime: { seconds: 10n, nanos: 0 } },
      commonLbConfig: panicThreshold === undefined ? undefined : { healthyPanicThreshold: { value: panicThreshold } },
    }),
    "c",
    errors,
  );
  assert.deepEqual(errors.list, []);
  const clock = new ManualClock();
  const store = new StatsStore();
  const c = new Cluster(config, store, seededRandom(1), clock);
  return { c, clock, store };
}

function picked(c: Cluster, times: number): Set<Host> {
  const seen = new Set<Host>();
  for (let i = 0; i < times; i++) {
    const h = c.pick(undefined);
    if (h) seen.add(h);
  }
  return seen;
}

const eject = (h: Host): void => {
  for (let i = 0; i < 5; i++) h.recordResult(503);
};

void describe("ejection, picker and panic threshold", () => {
  void test("an ejected host gets no traffic; it returns after the ejection time", () => {
    const { c, clock, store } = cluster(3, undefined);
    const [a, b, d] = c.hosts;
    eject(a);
    assert.equal(store.gauge("cluster.c.membership_healthy").value, 2);
    assert.deepEqual(picked(c, 100), new Set([b, d]));
    clock.advance(10_000);
    assert.deepEqual(picked(c, 100), new Set([a, b, d]));
    c.destroy();
  });

  void test("default 50 %: two of three ejected → panic → all three get traffic (Envoy)", () => {
    const { c } = cluster(3, undefined);
    eject(c.hosts[0]);
    assert.equal(c.panic, false);
    eject(c.hosts[1]);
    assert.equal(c.panic, true);
    assert.equal(picked(c, 200).size, 3);
    c.destroy();
  });

  void test("exactly at the threshold is not panic (1 of 2 left = 50 %)", () => {
    const { c } = cluster(2, undefined);
    eject(c.hosts[0]);
    assert.equal(c.panic, false);
    assert.deepEqual(picked(c, 50), new Set([c.hosts[1]]));
    c.destroy();
  });

  void test("threshold 0 disables panic: every host ejected → no host (UH)", () => {
    const { c } = cluster(2, 0, 1);
    eject(c.hosts[0]);
    eject(c.hosts[1]);
    assert.equal(c.panic, false);
    assert.equal(c.pick(undefined), undefined);
    c.destroy();
  });

  void test("a one-host cluster with panic on still sends to its ejected host (envoy#2671)", () => {
    const { c } = cluster(1, undefined);
    eject(c.hosts[0]);
    assert.equal(c.pick(undefined), c.hosts[0]);
    c.destroy();
  });
});

void describe("EDS DRAINING hosts (a terminating pod)", () => {
  void test("never picked, not even in panic mode, and left out of the panic maths (Envoy's excluded hosts)", () => {
    const errors = new Errors();
    const config = decodeCluster(
      PbCluster.fromPartial({
        name: "c",
        loadAssignment: {
          clusterName: "c",
          // Health status 3 = DRAINING.
          endpoints: [{ lbEndpoints: [{ ...addr(20000), healthStatus: 3 }, addr(20001), addr(20002)] }],
        },
        outlierDetection: { maxEjectionPercent: 100, baseEjectionTime: { seconds: 10n, nanos: 0 } },
      }),
      "c",
      errors,
    );
    assert.deepEqual(errors.list, []);
    const c = new Cluster(config, new StatsStore(), seededRandom(1), new ManualClock());
    const [draining, b, d] = c.hosts;
    assert.equal(draining.draining, true);
    eject(b);
    // 1 available of 2 eligible = 50 %: no panic (counting the draining host would make it 33 %).
    assert.equal(c.panic, false);
    assert.deepEqual(picked(c, 100), new Set([d]));
    eject(d);
    assert.equal(c.panic, true);
    assert.deepEqual(picked(c, 200), new Set([b, d]));
    c.destroy();
  });
});
