/**
 * `discovery:` on a mesh.yaml upstream: validation (field-naming errors), `dns` → a STRICT_DNS Cluster
 * (Envoy's field numbers on the wire), `kubernetes` → EDS endpoints from EndpointSlices (conditions,
 * ports by name or number, zones), and `pilotfish validate` accepting and rejecting such files.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import type { DiscoveredEndpoint } from "../../../../src/control-plane/discovery/discovered-endpoints.js";
import { endpointsFromSlices } from "../../../../src/control-plane/discovery/kubernetes-endpoints.js";
import { validateMesh } from "../../../../src/control-plane/mesh/mesh-source.js";
import type { MeshConfig } from "../../../../src/control-plane/mesh/mesh-model.js";
import { translateMesh } from "../../../../src/control-plane/mesh/translator.js";
import { buildSnapshot } from "../../../../src/control-plane/snapshot.js";
import { Cluster, Cluster_DiscoveryType, Cluster_DnsLookupFamily } from "../../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { HealthStatus } from "../../../../src/gen/envoy/config/core/v3/health_check.js";
import { runCli, tempFile } from "../../../helpers/sidecar.js";
import { baseMesh, type Doc, parts } from "./helpers.js";

const NODE = { id: "n", cluster: "", proxyless: false };

function withDiscovery(discovery: unknown): Doc {
  const doc = baseMesh();
  const { upstream } = parts(doc);
  delete upstream.nodes;
  upstream.discovery = discovery;
  return doc;
}

function valid(doc: Doc): MeshConfig {
  const r = validateMesh(doc);
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.errors));
  return r.mesh;
}

function errorsOf(doc: Doc): { path: string; message: string }[] {
  const r = validateMesh(doc);
  assert.ok(!r.ok, "expected the mesh to be rejected");
  return [...r.errors];
}

void describe("discovery validation", () => {
  const rejects: { name: string; doc: () => Doc; path: string; message: string }[] = [
    {
      name: "nodes and discovery together",
      doc: () => {
        const d = baseMesh();
        parts(d).upstream.discovery = { dns: { name: "echo.default.svc", port: 80 } };
        return d;
      },
      path: "upstreams[0].discovery",
      message: "nodes and discovery are exclusive",
    },
    {
      name: "neither nodes nor discovery",
      doc: () => {
        const d = baseMesh();
        delete parts(d).upstream.nodes;
        return d;
      },
      path: "upstreams[0]",
      message: "needs nodes: [...] or discovery",
    },
    { name: "both sources", doc: () => withDiscovery({ dns: { name: "a.b", port: 1 }, kubernetes: { service: "a", port: 1 } }), path: "upstreams[0].discovery", message: "has both dns and kubernetes" },
    { name: "no source", doc: () => withDiscovery({}), path: "upstreams[0].discovery", message: "needs one of dns" },
    { name: "dns without port", doc: () => withDiscovery({ dns: { name: "echo.svc" } }), path: "upstreams[0].discovery.dns.port", message: "" },
    { name: "dns bad name", doc: () => withDiscovery({ dns: { name: "echo svc", port: 80 } }), path: "upstreams[0].discovery.dns.name", message: "is not a DNS name" },
    { name: "dns bad family", doc: () => withDiscovery({ dns: { name: "echo.svc", port: 80, lookupFamily: "v5" } }), path: "upstreams[0].discovery.dns.lookupFamily", message: '"v5"' },
    { name: "dns refresh without unit", doc: () => withDiscovery({ dns: { name: "echo.svc", port: 80, refreshRate: 5 } }), path: "upstreams[0].discovery.dns.refreshRate", message: "no unit" },
    { name: "kubernetes bad service", doc: () => withDiscovery({ kubernetes: { service: "Echo_Svc", port: 80 } }), path: "upstreams[0].discovery.kubernetes.service", message: "Kubernetes name" },
    { name: "kubernetes port 0", doc: () => withDiscovery({ kubernetes: { service: "echo", port: 0 } }), path: "upstreams[0].discovery.kubernetes.port", message: "" },
    { name: "kubernetes unknown key", doc: () => withDiscovery({ kubernetes: { service: "echo", port: 80, namspace: "x" } }), path: "upstreams[0].discovery.kubernetes.namspace", message: "namespace" },
  ];
  for (const c of rejects) {
    void test(`rejects ${c.name} at ${c.path}`, () => {
      const errors = errorsOf(c.doc());
      const hit = errors.find((e) => e.path === c.path);
      assert.ok(hit, `no error at ${c.path}: ${JSON.stringify(errors)}`);
      assert.ok(hit.message.includes(c.message), hit.message);
    });
  }

  void test("defaults: Envoy's 5 s refresh, no TTL, AUTO; namespace default; quoted port numbers are numbers", () => {
    const dns = valid(withDiscovery({ dns: { name: "echo.default.svc.cluster.local", port: 8080 } })).upstreams[0];
    assert.deepEqual(dns.discovery, { kind: "dns", name: "echo.default.svc.cluster.local", port: 8080, refreshRateMs: 5000, respectTtl: false, lookupFamily: "auto" });
    assert.deepEqual(dns.nodes, []);
    const k8s = valid(withDiscovery({ kubernetes: { service: "echo", port: "8080" } })).upstreams[0];
    assert.deepEqual(k8s.discovery, { kind: "kubernetes", service: "echo", namespace: "default", port: 8080 });
    const named = valid(withDiscovery({ kubernetes: { service: "echo", namespace: "shop", port: "grpc" } })).upstreams[0];
    assert.deepEqual(named.discovery, { kind: "kubernetes", service: "echo", namespace: "shop", port: "grpc" });
  });
});

void describe("dns discovery → STRICT_DNS cluster", () => {
  const mesh = valid(withDiscovery({ dns: { name: "echo.default.svc.cluster.local", port: 8080, refreshRate: "2s", respectTtl: true, lookupFamily: "v4_only" } }));

  void test("Cluster type STRICT_DNS, DNS fields set, hostname in load_assignment, no EDS resource", () => {
    const res = translateMesh(mesh, NODE);
    const c = res.clusters[0];
    assert.equal(c.type, Cluster_DiscoveryType.STRICT_DNS);
    assert.equal(c.edsClusterConfig, undefined);
    assert.deepEqual(c.dnsRefreshRate, { seconds: 2n, nanos: 0 });
    assert.equal(c.respectDnsTtl, true);
    assert.equal(c.dnsLookupFamily, Cluster_DnsLookupFamily.V4_ONLY);
    const sa = c.loadAssignment?.endpoints[0].lbEndpoints[0].endpoint?.address?.address;
    assert.ok(sa?.$case === "socketAddress");
    assert.equal(sa.value.address, "echo.default.svc.cluster.local");
    assert.deepEqual(sa.value.portSpecifier, { $case: "portValue", value: 8080 });
    assert.equal(c.loadAssignment?.clusterName, "echo");
    assert.deepEqual(res.endpoints, [], "a STRICT_DNS cluster has no ClusterLoadAssignment over EDS");
    // The snapshot is consistent without an EDS resource for it.
    buildSnapshot(res, 0);
  });

  void test("on the wire: Envoy's field numbers 2 (type=1), 16, 17, 33, 39", () => {
    const bytes = Cluster.encode(translateMesh(mesh, NODE).clusters[0]).finish();
    const tags = new Set<number>();
    const values = new Map<number, number>();
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wire] = reader.tag();
      tags.add(field);
      if (wire === WireType.Varint) values.set(field, reader.uint32());
      else reader.skip(wire);
    }
    for (const f of [2, 16, 17, 33, 39]) assert.ok(tags.has(f), `field ${f} missing`);
    assert.equal(values.get(2), 1, "type = STRICT_DNS (1)");
    assert.equal(values.get(17), 1, "dns_lookup_family = V4_ONLY (1)");
    assert.equal(values.get(39), 1, "respect_dns_ttl = true");
    assert.ok(!tags.has(3), "no eds_cluster_config");
    const back = Cluster.decode(bytes);
    assert.equal(back.type, Cluster_DiscoveryType.STRICT_DNS);
  });
});

const SERVICE: V1Service = {
  metadata: { name: "echo", namespace: "shop" },
  spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }, { name: "grpc", port: 8080, protocol: "TCP" }] },
};

function slice(name: string, ports: { name?: string; port: number }[], endpoints: V1EndpointSlice["endpoints"], addressType = "IPv4"): V1EndpointSlice {
  return { metadata: { name }, addressType, ports, endpoints };
}

void describe("kubernetes discovery → EDS endpoints", () => {
  const slices = [
    slice("echo-1", [{ name: "grpc", port: 50051 }, { name: "http", port: 8000 }], [
      { addresses: ["10.0.0.1"], conditions: { ready: true, serving: true, terminating: false }, zone: "z1" },
      { addresses: ["10.0.0.2"], conditions: { ready: false, serving: true, terminating: true }, zone: "z2" },
      { addresses: ["10.0.0.3"], conditions: { ready: false, serving: false, terminating: true }, zone: "z1" },
      { addresses: ["10.0.0.4"], conditions: { ready: false, serving: false, terminating: false } },
      { addresses: ["10.0.0.5"], hints: { forZones: [{ name: "z2" }] } },
    ]),
    // Same pod seen twice (slices overlap during a controller update): one endpoint, the better status.
    slice("echo-2", [{ name: "grpc", port: 50051 }], [{ addresses: ["10.0.0.2"], conditions: { ready: true }, zone: "z2" }]),
    slice("echo-fqdn", [{ name: "grpc", port: 50051 }], [{ addresses: ["pod.example"] }], "FQDN"),
  ];

  void test("conditions: ready → healthy, terminating+serving → draining, terminating+!serving → dropped, !ready → unhealthy", () => {
    const eps = endpointsFromSlices(SERVICE, slices, "grpc");
    assert.deepEqual(eps, [
      { ip: "10.0.0.1", port: 50051, zone: "z1", status: "healthy" },
      { ip: "10.0.0.2", port: 50051, zone: "z2", status: "healthy" },
      { ip: "10.0.0.4", port: 50051, zone: "", status: "unhealthy" },
      { ip: "10.0.0.5", port: 50051, zone: "z2", status: "healthy" },
    ]);
    const draining = endpointsFromSlices(SERVICE, [slices[0]], "grpc").find((e) => e.ip === "10.0.0.2");
    assert.equal(draining?.status, "draining");
  });

  void test("port by Service port number resolves to the slice port of the same name (targetPort)", () => {
    assert.deepEqual(endpointsFromSlices(SERVICE, [slices[0]], 80).map((e) => e.port), [8000, 8000, 8000, 8000]);
    assert.deepEqual(endpointsFromSlices(SERVICE, [slices[0]], 8080).map((e) => e.port), [50051, 50051, 50051, 50051]);
    assert.deepEqual(endpointsFromSlices(SERVICE, slices, 9999), [], "no such Service port");
    assert.deepEqual(endpointsFromSlices(undefined, slices, 8080), [], "a number needs the Service");
    assert.equal(endpointsFromSlices(undefined, slices, "grpc").length, 4, "a name works from the slices alone");
    assert.deepEqual(endpointsFromSlices(SERVICE, slices, "metrics"), [], "no such port name on the Service");
  });

  void test("translation: one locality per zone weighted by its endpoints, EDS health statuses", () => {
    const mesh = valid(withDiscovery({ kubernetes: { service: "echo", namespace: "shop", port: "grpc" } }));
    const discovered: DiscoveredEndpoint[] = [
      { ip: "10.0.0.1", port: 50051, zone: "z1", status: "healthy" },
      { ip: "10.0.0.2", port: 50051, zone: "z2", status: "draining" },
      { ip: "10.0.0.5", port: 50051, zone: "z2", status: "unhealthy" },
    ];
    const res = translateMesh(mesh, NODE, new Map([["echo", discovered]]));
    assert.equal(res.clusters[0].type, Cluster_DiscoveryType.EDS);
    const cla = res.endpoints[0];
    assert.deepEqual(cla.endpoints.map((l) => [l.locality?.zone, l.loadBalancingWeight]), [["z1", 1], ["z2", 2]]);
    assert.deepEqual(cla.endpoints[1].lbEndpoints.map((e) => e.healthStatus), [HealthStatus.DRAINING, HealthStatus.UNHEALTHY]);
    // Nothing discovered yet: an empty, still consistent endpoint set.
    const empty = translateMesh(mesh, NODE);
    assert.deepEqual(empty.endpoints[0].endpoints, []);
    buildSnapshot(empty, 0);
  });
});

void describe("pilotfish validate with discovery", () => {
  void test("accepts dns and kubernetes upstreams; rejects nodes + discovery naming the field", { timeout: 60_000 }, async () => {
    const good = await tempFile(
      "mesh.yaml",
      [
        "upstreams:",
        "  - name: a",
        "    discovery: { dns: { name: a.default.svc.cluster.local, port: 8080, refreshRate: 10s } }",
        "  - name: b",
        "    discovery: { kubernetes: { service: b, namespace: shop, port: grpc } }",
        "routes: [ { name: r, rules: [ { upstream: a }, { match: { prefix: /b }, upstream: b } ] } ]",
        "listeners: [ { name: l, address: 127.0.0.1:15001, route: r } ]",
        "",
      ].join("\n"),
    );
    const bad = await tempFile(
      "mesh.yaml",
      "upstreams:\n  - name: a\n    nodes: [ { address: 10.0.0.1:80 } ]\n    discovery: { kubernetes: { service: B, port: 80 } }\n",
    );
    try {
      const ok = await runCli(["validate", good.path]);
      assert.equal(ok.code, 0, ok.stderr);
      const ko = await runCli(["validate", bad.path]);
      assert.equal(ko.code, 1);
      assert.match(ko.stderr, /upstreams\[0\]\.discovery: nodes and discovery are exclusive/);
      assert.match(ko.stderr, /upstreams\[0\]\.discovery\.kubernetes\.service: .*Kubernetes name/);
    } finally {
      await good.cleanup();
      await bad.cleanup();
    }
  });
});
