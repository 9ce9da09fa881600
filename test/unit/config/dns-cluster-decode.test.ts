/** STRICT_DNS / LOGICAL_DNS cluster decoding: Envoy's defaults, and bad input named by field path. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeBootstrap } from "../../../src/config/load-bootstrap.js";
import type { ClusterConfig } from "../../../src/config/model.js";
import { CLUSTER_PATH, type Doc, ENDPOINT_ADDR, fixture, parts } from "./bootstrap-helpers.js";

const CARES = "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";

/** The example bootstrap with its cluster turned into a DNS cluster naming `host`. */
function dnsDoc(type: string, host = "backend.example.internal"): { doc: Doc; cluster: Doc } {
  const doc = fixture("example.yaml");
  const { cluster } = parts(doc);
  cluster.type = type;
  cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address = host;
  return { doc, cluster };
}

function decodeCluster(doc: Doc): ClusterConfig {
  const result = decodeBootstrap(doc);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  return result.value.clusters[0];
}

function errorsOf(doc: Doc): { path: string; message: string }[] {
  const result = decodeBootstrap(doc);
  assert.equal(result.ok, false, "expected errors");
  return result.ok ? [] : result.errors;
}

void describe("DNS cluster decoding", () => {
  void test("STRICT_DNS takes a host name and Envoy's defaults", () => {
    const c = decodeCluster(dnsDoc("STRICT_DNS").doc);
    assert.equal(c.type, "STRICT_DNS");
    assert.equal(c.endpoints[0].endpoints[0].address.address, "backend.example.internal");
    assert.deepEqual(c.dns, {
      refreshRateMs: 5000,
      respectDnsTtl: false,
      lookupFamily: "AUTO",
      failureRefresh: undefined,
      resolvers: [],
    });
  });

  void test("every DNS field is read, and max_interval defaults to 10 x base_interval", () => {
    const { doc, cluster } = dnsDoc("LOGICAL_DNS");
    cluster.dns_refresh_rate = "2.5s";
    cluster.respect_dns_ttl = true;
    cluster.dns_lookup_family = "V4_ONLY";
    cluster.dns_failure_refresh_rate = { base_interval: "0.2s" };
    cluster.typed_dns_resolver_config = {
      name: "envoy.network.dns_resolver.cares",
      typed_config: { "@type": CARES, resolvers: [{ socket_address: { address: "127.0.0.1", port_value: 5353 } }] },
    };
    const c = decodeCluster(doc);
    assert.equal(c.type, "LOGICAL_DNS");
    assert.deepEqual(c.dns, {
      refreshRateMs: 2500,
      respectDnsTtl: true,
      lookupFamily: "V4_ONLY",
      failureRefresh: { baseMs: 200, maxMs: 2000 },
      resolvers: [{ address: "127.0.0.1", port: 5353 }],
    });
  });

  void test("STATIC and EDS clusters have no dns settings", () => {
    const c = decodeCluster(fixture("example.yaml"));
    assert.equal(c.dns, undefined);
  });

  const cases: { name: string; type?: string; mutate: (c: Doc) => void; path: string; message: string[] }[] = [
    {
      name: "host name in a STATIC cluster",
      type: "STATIC",
      mutate: () => undefined,
      path: `${ENDPOINT_ADDR}.address`,
      message: ['"backend.example.internal" is not an IP address'],
    },
    {
      name: "malformed host name",
      mutate: (c) => (c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address = "bad name!"),
      path: `${ENDPOINT_ADDR}.address`,
      message: ['"bad name!"', "valid host name"],
    },
    {
      name: "refresh rate of 1ms or less",
      mutate: (c) => (c.dns_refresh_rate = "0.001s"),
      path: `${CLUSTER_PATH}.dns_refresh_rate`,
      message: ['"1ms"', "greater than 1ms"],
    },
    {
      name: "unknown lookup family",
      mutate: (c) => (c.dns_lookup_family = "V5_ONLY"),
      path: `${CLUSTER_PATH}.dns_lookup_family`,
      message: ['"V5_ONLY"'],
    },
    {
      name: "failure refresh without base_interval",
      mutate: (c) => (c.dns_failure_refresh_rate = { max_interval: "10s" }),
      path: `${CLUSTER_PATH}.dns_failure_refresh_rate.base_interval`,
      message: ["required"],
    },
    {
      name: "failure max_interval below base_interval",
      mutate: (c) => (c.dns_failure_refresh_rate = { base_interval: "2s", max_interval: "1s" }),
      path: `${CLUSTER_PATH}.dns_failure_refresh_rate.max_interval`,
      message: ['"1000ms"', "at least base_interval (2000ms)"],
    },
    {
      name: "resolver config of an unknown type",
      mutate: (c) =>
        (c.typed_dns_resolver_config = {
          name: "x",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions" },
        }),
      path: `${CLUSTER_PATH}.typed_dns_resolver_config.typed_config.@type`,
      message: ["unsupported value", "HttpProtocolOptions", "CaresDnsResolverConfig"],
    },
    {
      name: "c-ares config without resolvers",
      mutate: (c) => (c.typed_dns_resolver_config = { name: "envoy.network.dns_resolver.cares", typed_config: { "@type": CARES } }),
      path: `${CLUSTER_PATH}.typed_dns_resolver_config.typed_config.resolvers`,
      message: ["at least one resolver"],
    },
    {
      name: "resolver given by name",
      mutate: (c) =>
        (c.typed_dns_resolver_config = {
          name: "envoy.network.dns_resolver.cares",
          typed_config: { "@type": CARES, resolvers: [{ socket_address: { address: "dns.local", port_value: 53 } }] },
        }),
      path: `${CLUSTER_PATH}.typed_dns_resolver_config.typed_config.resolvers[0].socket_address.address`,
      message: ['"dns.local" is not an IP address'],
    },
    {
      name: "use_resolvers_as_fallback",
      mutate: (c) =>
        (c.typed_dns_resolver_config = {
          name: "envoy.network.dns_resolver.cares",
          typed_config: { "@type": CARES, use_resolvers_as_fallback: true, resolvers: [{ socket_address: { address: "127.0.0.1", port_value: 53 } }] },
        }),
      path: `${CLUSTER_PATH}.typed_dns_resolver_config.typed_config.use_resolvers_as_fallback`,
      message: ["not supported"],
    },
    {
      name: "LOGICAL_DNS with two endpoints",
      type: "LOGICAL_DNS",
      mutate: (c) => c.load_assignment.endpoints[0].lb_endpoints.push(c.load_assignment.endpoints[0].lb_endpoints[0]),
      path: `${CLUSTER_PATH}.load_assignment.endpoints`,
      message: ["exactly one locality with one lb_endpoint", "1 localities, 2 endpoints"],
    },
    {
      name: "DNS cluster without load_assignment",
      mutate: (c) => delete c.load_assignment,
      path: `${CLUSTER_PATH}.load_assignment`,
      message: ["required for a STRICT_DNS cluster"],
    },
  ];

  for (const k of cases) {
    void test(`rejects ${k.name}`, () => {
      const { doc, cluster } = dnsDoc(k.type ?? "STRICT_DNS");
      k.mutate(cluster);
      const errors = errorsOf(doc);
      const e = errors.find((x) => x.path === k.path);
      assert.ok(e, `no error at ${k.path}: ${JSON.stringify(errors)}`);
      for (const m of k.message) assert.ok(e.message.includes(m), `${JSON.stringify(e.message)} lacks ${JSON.stringify(m)}`);
    });
  }
});
