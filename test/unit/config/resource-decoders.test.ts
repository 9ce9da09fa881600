/**
 * The per-type decoders work on one generated proto message with a path prefix and return errors
 * instead of throwing: the xDS client feeds them CDS/EDS/RDS/LDS resources decoded from wire bytes.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCluster } from "../../../src/config/decode/cluster.js";
import { decodeClusterLoadAssignment } from "../../../src/config/decode/endpoint.js";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { decodeListener } from "../../../src/config/decode/listener.js";
import { decodeRouteConfiguration } from "../../../src/config/decode/route.js";
import { Cluster, Cluster_LbPolicy } from "../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { HealthStatus } from "../../../src/gen/envoy/config/core/v3/health_check.js";
import { ClusterLoadAssignment } from "../../../src/gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../src/gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../src/gen/envoy/config/route/v3/route.js";

const addr = (address: string, port: number) => ({ address: { $case: "socketAddress" as const, value: { address, portSpecifier: { $case: "portValue" as const, value: port } } } });

void describe("single-resource decoders", () => {
  void test("a CDS cluster from wire bytes", () => {
    const bytes = Cluster.encode(
      Cluster.fromPartial({
        name: "svc",
        lbPolicy: Cluster_LbPolicy.RING_HASH,
        loadAssignment: { clusterName: "svc", endpoints: [{ lbEndpoints: [{ endpoint: { address: addr("10.0.0.1", 80) } }] }] },
      }),
    ).finish();
    const errors = new Errors();
    decodeCluster(Cluster.decode(bytes), "svc", errors);
    assert.deepEqual(errors.list, [{ path: "svc.lb_policy", message: 'unsupported value "RING_HASH"; supported: ROUND_ROBIN, LEAST_REQUEST, RANDOM' }]);
  });

  void test("an EDS assignment", () => {
    const errors = new Errors();
    const cla = ClusterLoadAssignment.fromPartial({
      clusterName: "svc",
      endpoints: [
        {
          loadBalancingWeight: 3,
          lbEndpoints: [
            { endpoint: { address: addr("10.0.0.1", 80) }, healthStatus: HealthStatus.DRAINING, loadBalancingWeight: 5 },
            { endpoint: { address: addr("10.0.0.2", 0) } },
          ],
        },
      ],
    });
    const out = decodeClusterLoadAssignment(cla, "eds[svc]", errors);
    assert.equal(out[0].weight, 3);
    assert.deepEqual(out[0].endpoints[0], { address: { address: "10.0.0.1", port: 80 }, weight: 5, healthStatus: "DRAINING", hostname: undefined });
    assert.deepEqual(errors.list.map((e) => e.path), ["eds[svc].endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value"]);
  });

  void test("an RDS route configuration does not require clusters to exist", () => {
    const errors = new Errors();
    const rc = RouteConfiguration.fromPartial({
      name: "r",
      virtualHosts: [{ name: "v", domains: ["A.example.com"], routes: [{ match: { pathSpecifier: { $case: "prefix", value: "/" } }, action: { $case: "route", value: { clusterSpecifier: { $case: "cluster", value: "later" } } } }] }],
    });
    const out = decodeRouteConfiguration(rc, "rds[r]", errors);
    assert.deepEqual(errors.list, []);
    assert.deepEqual(out.virtualHosts[0].domains, ["a.example.com"]);
  });

  void test("an LDS listener with no filter chain reports, not throws", () => {
    const errors = new Errors();
    decodeListener(Listener.fromPartial({ name: "l", address: addr("0.0.0.0", 8080) }), "lds[l]", errors);
    assert.deepEqual(errors.list.map((e) => e.path), ["lds[l].filter_chains"]);
  });

  void test("malformed Any bytes become an error", () => {
    const errors = new Errors();
    const listener = Listener.fromPartial({
      name: "l",
      address: addr("0.0.0.0", 8080),
      filterChains: [
        {
          filters: [
            {
              name: "hcm",
              typedConfig: {
                typeUrl: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                value: Buffer.from([0xff, 0xff, 0xff]),
              },
            },
          ],
        },
      ],
    });
    decodeListener(listener, "lds[l]", errors);
    assert.ok(errors.list.some((e) => e.path === "lds[l].filter_chains[0].filters[0].typed_config" && e.message.startsWith("malformed")));
  });
});
