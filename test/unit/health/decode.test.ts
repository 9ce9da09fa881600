/** health_checks decoding: required fields as Envoy, defaults, errors naming field paths. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeBootstrap } from "../../../src/config/load-bootstrap.js";

function bootstrapWith(healthChecks: unknown[]) {
  return decodeBootstrap({
    node: { id: "n", cluster: "c" },
    static_resources: {
      clusters: [
        {
          name: "svc",
          type: "STATIC",
          load_assignment: { cluster_name: "svc", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 80 } } } }] }] },
          health_checks: healthChecks,
        },
      ],
    },
  });
}
const P = "static_resources.clusters[0].health_checks";
const base = { timeout: "1s", interval: "5s", unhealthy_threshold: 2, healthy_threshold: 1 };

void describe("health_checks decoding", () => {
  void test("gRPC check with defaults", () => {
    const r = bootstrapWith([{ ...base, grpc_health_check: { service_name: "echo" } }]);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.value.clusters[0].healthChecks, [
      {
        timeoutMs: 1000, intervalMs: 5000, initialJitterMs: 0, intervalJitterMs: 0, intervalJitterPercent: 0,
        unhealthyThreshold: 2, healthyThreshold: 1, reuseConnection: true, noTrafficIntervalMs: 60_000,
        noTrafficHealthyIntervalMs: 60_000, unhealthyIntervalMs: 5000, unhealthyEdgeIntervalMs: 5000, healthyEdgeIntervalMs: 5000,
        checker: { kind: "grpc", serviceName: "echo", authority: undefined, initialMetadata: [] },
      },
    ]);
  });

  void test("HTTP check with expected statuses and intervals", () => {
    const r = bootstrapWith([
      {
        ...base, no_traffic_interval: "2s", unhealthy_interval: "3s", interval_jitter: "0.1s",
        http_health_check: { path: "/healthz", host: "svc.local", expected_statuses: [{ start: 200, end: 300 }] },
      },
    ]);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    const hc = r.value.clusters[0].healthChecks![0];
    assert.equal(hc.noTrafficIntervalMs, 2000);
    assert.equal(hc.unhealthyIntervalMs, 3000);
    assert.equal(hc.unhealthyEdgeIntervalMs, 3000);
    assert.equal(hc.intervalJitterMs, 100);
    assert.deepEqual(hc.checker, {
      kind: "http", host: "svc.local", path: "/healthz", expectedStatuses: [{ start: 200, end: 300 }],
      requestHeadersToAdd: [], requestHeadersToRemove: [],
    });
  });

  void test("common_lb_config.ignore_new_hosts_until_first_hc", () => {
    const doc = bootstrapWith([{ ...base, grpc_health_check: {} }]);
    assert.ok(doc.ok);
    assert.equal(doc.value.clusters[0].ignoreNewHostsUntilFirstHc, undefined);
    const r = decodeBootstrap({
      node: { id: "n", cluster: "c" },
      static_resources: {
        clusters: [
          {
            name: "svc",
            load_assignment: { cluster_name: "svc", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 80 } } } }] }] },
            common_lb_config: { ignore_new_hosts_until_first_hc: true },
          },
        ],
      },
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.value.clusters[0].ignoreNewHostsUntilFirstHc, true);
  });

  void test("HTTP expects 200 only by default", () => {
    const r = bootstrapWith([{ ...base, http_health_check: { path: "/" } }]);
    assert.ok(r.ok);
    const c = r.value.clusters[0].healthChecks![0].checker;
    assert.ok(c.kind === "http");
    assert.deepEqual(c.expectedStatuses, [{ start: 200, end: 201 }]);
  });

  const bad: Array<[string, unknown[], string, RegExp]> = [
    ["a missing timeout", [{ interval: "1s", unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {} }], "[0].timeout", /required/],
    ["a missing interval", [{ timeout: "1s", unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {} }], "[0].interval", /required/],
    ["a missing unhealthy_threshold", [{ timeout: "1s", interval: "1s", healthy_threshold: 1, grpc_health_check: {} }], "[0].unhealthy_threshold", /required/],
    ["a missing healthy_threshold", [{ timeout: "1s", interval: "1s", unhealthy_threshold: 1, grpc_health_check: {} }], "[0].healthy_threshold", /required/],
    ["no checker", [{ ...base }], "[0].health_checker", /required/],
    ["an HTTP check without a path", [{ ...base, http_health_check: {} }], "[0].http_health_check.path", /required/],
    ["a relative path", [{ ...base, http_health_check: { path: "healthz" } }], "[0].http_health_check.path", /start with/],
    ["an empty status range", [{ ...base, http_health_check: { path: "/", expected_statuses: [{ start: 300, end: 200 }] } }], "[0].http_health_check.expected_statuses[0]", /must lie within/],
    ["two checks", [{ ...base, grpc_health_check: {} }, { ...base, grpc_health_check: {} }], "", /at most one/],
    ["a zero timeout", [{ ...base, timeout: "0s", grpc_health_check: {} }], "[0].timeout", /greater than 0/],
  ];
  for (const [name, hcs, field, msg] of bad) {
    void test(`rejects ${name}`, () => {
      const r = bootstrapWith(hcs);
      assert.ok(!r.ok);
      const e = r.errors.find((x) => x.path === `${P}${field}`);
      assert.ok(e, JSON.stringify(r.errors));
      assert.match(e.message, msg);
    });
  }
});
