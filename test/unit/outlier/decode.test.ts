/**
 * outlier_detection and health_checks decode the same from a bootstrap (proto3 JSON) and from CDS
 * (wire bytes), with Envoy's defaults and errors naming the field path.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCluster } from "../../../src/config/decode/cluster.js";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { OUTLIER_DEFAULTS } from "../../../src/config/decode/outlier-detection.js";
import { decodeBootstrap } from "../../../src/config/load-bootstrap.js";
import { Cluster } from "../../../src/gen/envoy/config/cluster/v3/cluster.js";

const addr = (address: string, port: number) => ({
  address: { $case: "socketAddress" as const, value: { address, portSpecifier: { $case: "portValue" as const, value: port } } },
});

function bootstrapWith(cluster: Record<string, unknown>) {
  return decodeBootstrap({
    node: { id: "n", cluster: "c" },
    static_resources: {
      clusters: [
        {
          name: "svc",
          type: "STATIC",
          load_assignment: { cluster_name: "svc", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 80 } } } }] }] },
          ...cluster,
        },
      ],
    },
  });
}

const P = "static_resources.clusters[0]";

void describe("outlier_detection decoding", () => {
  void test("an empty message gets every Envoy default", () => {
    const r = bootstrapWith({ outlier_detection: {} });
    assert.ok(r.ok);
    assert.deepEqual(r.value.clusters[0].outlierDetection, OUTLIER_DEFAULTS);
    assert.equal(r.value.clusters[0].outlierDetection?.maxEjectionTimeMs, 300_000);
    assert.ok(Object.isFrozen(r.value.clusters[0].outlierDetection));
  });

  void test("absent means off", () => {
    const r = bootstrapWith({});
    assert.ok(r.ok);
    assert.equal(r.value.clusters[0].outlierDetection, undefined);
    assert.equal(r.value.clusters[0].healthChecks, undefined);
  });

  void test("every field is read", () => {
    const r = bootstrapWith({
      outlier_detection: {
        consecutive_5xx: 3, interval: "0.2s", base_ejection_time: "1s", max_ejection_percent: 50,
        enforcing_consecutive_5xx: 90, enforcing_success_rate: 80, success_rate_minimum_hosts: 3,
        success_rate_request_volume: 10, success_rate_stdev_factor: 1000, consecutive_gateway_failure: 4,
        enforcing_consecutive_gateway_failure: 70, split_external_local_origin_errors: true,
        consecutive_local_origin_failure: 6, enforcing_consecutive_local_origin_failure: 60,
        enforcing_local_origin_success_rate: 50, failure_percentage_threshold: 40, enforcing_failure_percentage: 30,
        enforcing_failure_percentage_local_origin: 20, failure_percentage_minimum_hosts: 2,
        failure_percentage_request_volume: 7, max_ejection_time: "20s", max_ejection_time_jitter: "0.5s",
        successful_active_health_check_uneject_host: false, always_eject_one_host: true,
      },
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.value.clusters[0].outlierDetection, {
      consecutive5xx: 3, intervalMs: 200, baseEjectionTimeMs: 1000, maxEjectionPercent: 50,
      enforcingConsecutive5xx: 90, enforcingSuccessRate: 80, successRateMinimumHosts: 3,
      successRateRequestVolume: 10, successRateStdevFactor: 1000, consecutiveGatewayFailure: 4,
      enforcingConsecutiveGatewayFailure: 70, splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: 6, enforcingConsecutiveLocalOriginFailure: 60,
      enforcingLocalOriginSuccessRate: 50, failurePercentageThreshold: 40, enforcingFailurePercentage: 30,
      enforcingFailurePercentageLocalOrigin: 20, failurePercentageMinimumHosts: 2,
      failurePercentageRequestVolume: 7, maxEjectionTimeMs: 20_000, maxEjectionTimeJitterMs: 500,
      successfulActiveHealthCheckUnejectHost: false, alwaysEjectOneHost: true,
    });
  });

  void test("max_ejection_time defaults to max(300s, base)", () => {
    const r = bootstrapWith({ outlier_detection: { base_ejection_time: "400s" } });
    assert.ok(r.ok);
    assert.equal(r.value.clusters[0].outlierDetection?.maxEjectionTimeMs, 400_000);
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["max_ejection_percent over 100", { max_ejection_percent: 101 }, "max_ejection_percent", /outside 0\.\.100/],
    ["enforcing_success_rate over 100", { enforcing_success_rate: 200 }, "enforcing_success_rate", /outside 0\.\.100/],
    ["failure_percentage_threshold over 100", { failure_percentage_threshold: 101 }, "failure_percentage_threshold", /outside/],
    ["zero interval", { interval: "0s" }, "interval", /greater than 0/],
    ["zero base_ejection_time", { base_ejection_time: "0s" }, "base_ejection_time", /greater than 0/],
    ["max below base", { base_ejection_time: "10s", max_ejection_time: "5s" }, "max_ejection_time", /less than base_ejection_time/],
  ];
  for (const [name, od, field, msg] of bad) {
    void test(`rejects ${name}`, () => {
      const r = bootstrapWith({ outlier_detection: od });
      assert.ok(!r.ok);
      const e = r.errors.find((x) => x.path === `${P}.outlier_detection.${field}`);
      assert.ok(e, JSON.stringify(r.errors));
      assert.match(e.message, msg);
    });
  }

  void test("rejects an unknown field (typo) in the bootstrap", () => {
    const r = bootstrapWith({ outlier_detection: { consecutive_5xxx: 3 } });
    assert.ok(!r.ok);
    assert.ok(r.errors.some((e) => e.path.includes("outlier_detection.consecutive_5xxx")), JSON.stringify(r.errors));
  });

  void test("CDS bytes decode the same way", () => {
    const c = Cluster.decode(
      Cluster.encode(
        Cluster.fromPartial({
          name: "svc",
          loadAssignment: { clusterName: "svc", endpoints: [{ lbEndpoints: [{ endpoint: { address: addr("10.0.0.1", 80) } }] }] },
          outlierDetection: { consecutive5xx: 2, maxEjectionPercent: 101, alwaysEjectOneHost: true },
          healthChecks: [{ timeout: { seconds: 1n, nanos: 0 }, interval: { seconds: 2n, nanos: 0 }, unhealthyThreshold: 2, healthyThreshold: 1, healthChecker: { $case: "grpcHealthCheck", value: { serviceName: "svc" } } }],
        }),
      ).finish(),
    );
    const errors = new Errors();
    const out = decodeCluster(c, "svc", errors);
    assert.deepEqual(errors.list, [{ path: "svc.outlier_detection.max_ejection_percent", message: "value 101 is outside 0..100" }]);
    assert.equal(out.outlierDetection?.consecutive5xx, 2);
    assert.equal(out.outlierDetection?.alwaysEjectOneHost, true);
    assert.equal(out.outlierDetection?.intervalMs, 10_000);
    assert.equal(out.healthChecks?.[0].checker.kind, "grpc");
    assert.equal(out.healthChecks?.[0].noTrafficIntervalMs, 60_000);
  });
});
