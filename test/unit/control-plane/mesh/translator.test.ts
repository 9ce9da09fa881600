/** translateMesh: the example becomes the expected resources; output is deterministic and encodable. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from "../../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { HealthStatus } from "../../../../src/gen/envoy/config/core/v3/health_check.js";
import { ClusterLoadAssignment } from "../../../../src/gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../../src/gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../../src/gen/envoy/config/route/v3/route.js";
import { HttpConnectionManager } from "../../../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { LeastRequest } from "../../../../src/gen/envoy/extensions/load_balancing_policies/least_request/v3/least_request.js";
import { SubjectAltNameMatcher_SanType } from "../../../../src/gen/envoy/extensions/transport_sockets/tls/v3/common.js";
import { DownstreamTlsContext, UpstreamTlsContext } from "../../../../src/gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
import { HttpProtocolOptions } from "../../../../src/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import type { Any } from "../../../../src/gen/google/protobuf/any.js";
import { loadMeshFile, validateMesh } from "../../../../src/control-plane/mesh/mesh-source.js";
import type { MeshConfig } from "../../../../src/control-plane/mesh/mesh-model.js";
import { translateMesh } from "../../../../src/control-plane/mesh/translator.js";
import type { NodeIdentity, XdsResources } from "../../../../src/control-plane/xds-resources.js";
import { baseMesh, FIXTURES } from "./helpers.js";

const example = loadMeshFile(`${FIXTURES}/example.yaml`);
const full = loadMeshFile(`${FIXTURES}/full.yaml`);
const sidecar = (cluster: string): NodeIdentity => ({ id: `sidecar~${cluster}`, cluster, proxyless: false });
const proxyless: NodeIdentity = { id: "grpc-client", cluster: "", proxyless: true };

function hcmOf(any: Any | undefined): HttpConnectionManager {
  assert.ok(any);
  assert.equal(any.typeUrl, "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  return HttpConnectionManager.decode(any.value);
}

function encodeAll(r: XdsResources): Buffer[] {
  return [
    ...r.clusters.map((c) => Buffer.from(Cluster.encode(c).finish())),
    ...r.endpoints.map((e) => Buffer.from(ClusterLoadAssignment.encode(e).finish())),
    ...r.listeners.map((l) => Buffer.from(Listener.encode(l).finish())),
    ...r.routes.map((rc) => Buffer.from(RouteConfiguration.encode(rc).finish())),
  ];
}

void describe("the issue's example", () => {
  const r = translateMesh(example, sidecar("frontend"));

  void test("one EDS cluster over ADS, least request with a round-robin fallback", () => {
    assert.equal(r.clusters.length, 1);
    const c = r.clusters[0];
    assert.equal(c.name, "echo");
    assert.equal(c.type, Cluster_DiscoveryType.EDS);
    assert.equal(c.edsClusterConfig?.serviceName, "echo");
    assert.equal(c.edsClusterConfig?.edsConfig?.configSourceSpecifier?.$case, "ads");
    assert.deepEqual(c.connectTimeout, { seconds: 1n, nanos: 0 });
    assert.equal(c.lbPolicy, Cluster_LbPolicy.LEAST_REQUEST);
    assert.equal(c.leastRequestLbConfig?.choiceCount, 2);
    const policies = c.loadBalancingPolicy?.policies.map((p) => p.typedExtensionConfig?.typedConfig?.typeUrl);
    assert.deepEqual(policies, [
      "type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest",
      "type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin",
    ]);
    const lr = LeastRequest.decode(c.loadBalancingPolicy!.policies[0].typedExtensionConfig!.typedConfig!.value);
    assert.equal(lr.choiceCount, 2);
  });

  void test("explicit HTTP/2 upstream protocol", () => {
    const any = Object.values(r.clusters[0].typedExtensionProtocolOptions);
    assert.equal(any.length, 1);
    const opts = HttpProtocolOptions.decode(any[0].value);
    assert.equal(opts.upstreamProtocolOptions?.$case, "explicitHttpConfig");
    if (opts.upstreamProtocolOptions?.$case !== "explicitHttpConfig") return;
    assert.equal(opts.upstreamProtocolOptions.value.protocolConfig?.$case, "http2ProtocolOptions");
  });

  void test("outlier detection as written, plus always_eject_one_host", () => {
    const od = r.clusters[0].outlierDetection;
    assert.ok(od);
    assert.equal(od.consecutive5xx, 5);
    assert.deepEqual(od.interval, { seconds: 1n, nanos: 0 });
    assert.deepEqual(od.baseEjectionTime, { seconds: 10n, nanos: 0 });
    assert.equal(od.maxEjectionPercent, 50);
    assert.equal(od.alwaysEjectOneHost, true);
    assert.equal(od.enforcingConsecutiveGatewayFailure, 0, "Envoy's default kept");
  });

  void test("gRPC health check", () => {
    const hc = r.clusters[0].healthChecks;
    assert.equal(hc.length, 1);
    assert.equal(hc[0].healthChecker?.$case, "grpcHealthCheck");
    assert.deepEqual(hc[0].interval, { seconds: 2n, nanos: 0 });
    assert.deepEqual(hc[0].timeout, { seconds: 0n, nanos: 500_000_000 });
    assert.equal(hc[0].unhealthyThreshold, 2);
    assert.equal(hc[0].healthyThreshold, 1);
  });

  void test("endpoints: one locality of weight 1, node weights, IP literals", () => {
    assert.equal(r.endpoints.length, 1);
    const cla = r.endpoints[0];
    assert.equal(cla.clusterName, "echo");
    assert.equal(cla.endpoints.length, 1);
    assert.equal(cla.endpoints[0].loadBalancingWeight, 1);
    assert.ok(cla.endpoints[0].locality, "grpc-js-xds requires a locality");
    const eps = cla.endpoints[0].lbEndpoints.map((e) => {
      const a = e.endpoint?.address?.address;
      assert.equal(a?.$case, "socketAddress");
      const port = a.value.portSpecifier;
      return [a.value.address, port?.$case === "portValue" ? port.value : -1, e.loadBalancingWeight, e.healthStatus];
    });
    assert.deepEqual(eps, [
      ["127.0.0.1", 50051, 1, HealthStatus.UNKNOWN],
      ["127.0.0.1", 50052, 1, HealthStatus.UNKNOWN],
    ]);
  });

  void test("sidecar listener: address, HCM with rds over ADS, router as the only filter", () => {
    assert.equal(r.listeners.length, 1);
    const l = r.listeners[0];
    assert.equal(l.name, "echo");
    assert.equal(l.apiListener, undefined);
    const a = l.address?.address;
    assert.equal(a?.$case, "socketAddress");
    assert.equal(a.value.address, "127.0.0.1");
    assert.deepEqual(a.value.portSpecifier, { $case: "portValue", value: 15001 });
    assert.equal(l.filterChains.length, 1);
    const hcm = hcmOf(l.filterChains[0].filters[0].typedConfig);
    assert.equal(hcm.routeSpecifier?.$case, "rds");
    assert.equal(hcm.routeSpecifier.value.routeConfigName, "echo-route");
    assert.equal(hcm.routeSpecifier.value.configSource?.configSourceSpecifier?.$case, "ads");
    assert.deepEqual(
      hcm.httpFilters.map((f) => f.typedConfig?.typeUrl),
      ["type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"],
    );
  });

  void test("route: virtual host with the hosts, prefix rule to the cluster, timeout and retries", () => {
    assert.equal(r.routes.length, 1);
    const rc = r.routes[0];
    assert.equal(rc.name, "echo-route");
    assert.deepEqual(rc.virtualHosts[0].domains, ["echo", "echo:15001"]);
    const route = rc.virtualHosts[0].routes[0];
    assert.deepEqual(route.match?.pathSpecifier, { $case: "prefix", value: "/" });
    assert.equal(route.action?.$case, "route");
    const action = route.action.value;
    assert.deepEqual(action.clusterSpecifier, { $case: "cluster", value: "echo" });
    assert.deepEqual(action.timeout, { seconds: 5n, nanos: 0 });
    assert.deepEqual(action.maxStreamDuration?.grpcTimeoutHeaderMax, { seconds: 5n, nanos: 0 });
    assert.equal(action.retryPolicy?.numRetries, 1);
    assert.equal(action.retryPolicy.retryOn, "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
    assert.deepEqual(action.retryPolicy.retriableStatusCodes, [503]);
    assert.equal(action.retryPolicy.retryHostPredicate[0].name, "envoy.retry_host_predicates.previous_hosts");
  });

  void test("proxyless node: api_listener carrying the HCM, no address", () => {
    const p = translateMesh(example, proxyless);
    assert.equal(p.listeners.length, 1);
    const l = p.listeners[0];
    assert.equal(l.name, "echo");
    assert.equal(l.address, undefined);
    assert.equal(l.filterChains.length, 0);
    const hcm = hcmOf(l.apiListener?.apiListener);
    assert.equal(hcm.routeSpecifier?.$case, "rds");
    assert.equal(hcm.routeSpecifier.value.routeConfigName, "echo-route");
    assert.equal(hcm.httpFilters.at(-1)?.name, "envoy.filters.http.router");
    assert.deepEqual(p.clusters, r.clusters, "clusters do not depend on the node's kind");
  });
});

void describe("listener selection by node cluster", () => {
  const names = (mesh: MeshConfig, cluster: string): string[] => translateMesh(mesh, sidecar(cluster)).listeners.map((l) => l.name);

  void test("selected listeners plus the unselected ones", () => {
    assert.deepEqual(names(full, "frontend"), ["api-frontend", "api-outbound"]);
    assert.deepEqual(names(full, "edge"), ["api-frontend", "api-outbound"]);
  });

  void test("a node that no selector names gets every listener", () => {
    assert.deepEqual(names(full, "billing"), ["api-frontend", "api-outbound"]);
    assert.deepEqual(names(example, "backend"), ["echo"]);
  });

  void test("only the selected listener when every listener has a selector", () => {
    const doc = baseMesh();
    (doc.listeners as Record<string, unknown>[]).push(
      { name: "b", address: "127.0.0.1:15002", route: "echo-route", nodes: { cluster: "backend" } },
    );
    (doc.listeners as Record<string, unknown>[])[0].nodes = { cluster: "frontend" };
    const v = validateMesh(doc);
    assert.ok(v.ok);
    assert.deepEqual(names(v.mesh, "frontend"), ["echo"]);
    assert.deepEqual(names(v.mesh, "backend"), ["b"]);
    assert.deepEqual(names(v.mesh, "other"), ["b", "echo"]);
  });

  void test("a snapshot holds only what its listeners reach", () => {
    const r = translateMesh(full, sidecar("x"));
    assert.deepEqual(r.clusters.map((c) => c.name), ["partner", "users", "web"], "sorted, without the unused upstream");
    assert.deepEqual(r.endpoints.map((e) => e.clusterName), ["partner", "users", "web"]);
    const empty = validateMesh({ upstreams: [{ name: "u", nodes: [{ address: "10.0.0.1:1" }] }] });
    assert.ok(empty.ok);
    assert.deepEqual(translateMesh(empty.mesh, sidecar("x")), { clusters: [], endpoints: [], listeners: [], routes: [] });
  });
});

void describe("the full fixture", () => {
  const r = translateMesh(full, sidecar("frontend"));
  const cluster = (name: string): Cluster => r.clusters.find((c) => c.name === name)!;

  void test("round robin alone; random with a round-robin fallback; lb_policy set for both", () => {
    assert.equal(cluster("web").lbPolicy, Cluster_LbPolicy.ROUND_ROBIN);
    assert.equal(cluster("web").loadBalancingPolicy?.policies.length, 1);
    assert.equal(cluster("partner").lbPolicy, Cluster_LbPolicy.RANDOM);
    assert.deepEqual(
      cluster("partner").loadBalancingPolicy?.policies.map((p) => p.typedExtensionConfig?.name),
      ["envoy.load_balancing_policies.random", "envoy.load_balancing_policies.round_robin"],
    );
    assert.equal(cluster("web").outlierDetection, undefined, "enabled: false");
  });

  void test("https: UpstreamTlsContext with SNI, CA, client cert, SAN = SNI by default, ALPN h2", () => {
    const doc = structuredClone(baseMesh()) as { upstreams: Record<string, unknown>[] };
    Object.assign(doc.upstreams[0], {
      protocol: "https",
      tls: { sni: "api.partner.example", caFile: "/etc/ssl/ca.pem", certFile: "/etc/ssl/me.pem", keyFile: "/etc/ssl/me.key" },
    });
    const v = validateMesh(doc);
    assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
    const ts = translateMesh(v.mesh, sidecar("x")).clusters[0].transportSocket;
    assert.equal(ts?.name, "envoy.transport_sockets.tls");
    const tls = UpstreamTlsContext.decode(ts.typedConfig!.value);
    assert.equal(tls.sni, "api.partner.example");
    assert.deepEqual(tls.commonTlsContext?.alpnProtocols, ["h2"]);
    assert.equal(tls.commonTlsContext?.tlsCertificates.length, 1);
    const vc = tls.commonTlsContext?.validationContextType?.value;
    assert.deepEqual(vc?.trustedCa?.specifier, { $case: "filename", value: "/etc/ssl/ca.pem" });
    assert.deepEqual(
      vc?.matchTypedSubjectAltNames.map((m) => [m.sanType, m.matcher?.matchPattern]),
      [[SubjectAltNameMatcher_SanType.DNS, { $case: "exact", value: "api.partner.example" }]],
    );
  });

  void test("https without caFile trusts the system bundle; subjectAltNames: URI and DNS", () => {
    const doc = structuredClone(baseMesh()) as { upstreams: Record<string, unknown>[] };
    Object.assign(doc.upstreams[0], { protocol: "https", tls: { subjectAltNames: ["spiffe://partner/ns/a/sa/b", "api.example"] } });
    const v = validateMesh(doc);
    assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
    const tls = UpstreamTlsContext.decode(translateMesh(v.mesh, sidecar("x")).clusters[0].transportSocket!.typedConfig!.value);
    const vc = tls.commonTlsContext?.validationContextType?.value;
    assert.deepEqual(vc?.trustedCa?.specifier, { $case: "filename", value: "/etc/ssl/certs/ca-certificates.crt" });
    assert.deepEqual(vc?.matchTypedSubjectAltNames.map((m) => m.sanType), [SubjectAltNameMatcher_SanType.URI, SubjectAltNameMatcher_SanType.DNS]);
  });

  void test("strict mTLS: inbound listeners require mesh client certs, upstreams with identity present the pod's", () => {
    const doc = structuredClone(baseMesh()) as { upstreams: Record<string, unknown>[]; listeners: Record<string, unknown>[] } & Record<string, unknown>;
    doc.mtls = { mode: "strict", certFile: "/var/run/pf/tls.crt", keyFile: "/var/run/pf/tls.key", caFile: "/var/run/pf/ca.crt" };
    doc.upstreams[0].identity = "spiffe://cluster.local/ns/default/sa/echo";
    doc.listeners[0].inbound = true;
    const v = validateMesh(doc);
    assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
    const res = translateMesh(v.mesh, sidecar("x"));
    const up = UpstreamTlsContext.decode(res.clusters[0].transportSocket!.typedConfig!.value);
    assert.deepEqual(up.commonTlsContext?.tlsCertificates[0].certificateChain?.specifier, { $case: "filename", value: "/var/run/pf/tls.crt" });
    const uvc = up.commonTlsContext?.validationContextType?.value;
    assert.deepEqual(uvc?.matchTypedSubjectAltNames[0].matcher?.matchPattern, { $case: "exact", value: "spiffe://cluster.local/ns/default/sa/echo" });
    assert.equal(uvc?.matchTypedSubjectAltNames[0].sanType, SubjectAltNameMatcher_SanType.URI);
    const ts = res.listeners[0].filterChains[0].transportSocket;
    assert.equal(ts?.typedConfig?.typeUrl, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext");
    const down = DownstreamTlsContext.decode(ts.typedConfig.value);
    assert.equal(down.requireClientCertificate, true);
    assert.deepEqual(down.commonTlsContext?.validationContextType?.value.matchTypedSubjectAltNames[0].matcher?.matchPattern, {
      $case: "prefix",
      value: "spiffe://cluster.local/",
    });
    // Proxyless clients get neither; mode disabled emits neither.
    const proxyless = translateMesh(v.mesh, { id: "p", cluster: "x", proxyless: true });
    assert.equal(proxyless.clusters[0].transportSocket, undefined);
    (doc.mtls as Record<string, unknown>).mode = "disabled";
    const off = validateMesh(doc);
    assert.ok(off.ok);
    const offRes = translateMesh(off.mesh, sidecar("x"));
    assert.equal(offRes.clusters[0].transportSocket, undefined);
    assert.equal(offRes.listeners[0].filterChains[0].transportSocket, undefined);
  });

  void test("least request tuning, breakers, panic threshold, health statuses, locality", () => {
    const users = cluster("users");
    const lr = LeastRequest.decode(users.loadBalancingPolicy!.policies[0].typedExtensionConfig!.typedConfig!.value);
    assert.equal(lr.choiceCount, 3);
    assert.equal(lr.activeRequestBias?.defaultValue, 0.5);
    assert.deepEqual(lr.slowStartConfig?.slowStartWindow, { seconds: 30n, nanos: 0 });
    assert.equal(users.circuitBreakers?.thresholds[0].maxRequests, 200);
    assert.equal(users.commonLbConfig?.healthyPanicThreshold?.value, 0);
    const cla = r.endpoints.find((e) => e.clusterName === "users")!;
    assert.deepEqual(cla.endpoints[0].locality, { region: "eu-west", zone: "eu-west-1a", subZone: "rack7" });
    assert.deepEqual(cla.endpoints[0].lbEndpoints.map((e) => [e.loadBalancingWeight, e.healthStatus]), [
      [3, HealthStatus.UNKNOWN],
      [1, HealthStatus.DRAINING],
      [1, HealthStatus.HEALTHY],
    ]);
  });

  void test("rules: grpc method path, service prefix, headers, regex, per-rule overrides", () => {
    const routes = r.routes[0].virtualHosts[0].routes;
    assert.deepEqual(routes[0].match?.pathSpecifier, { $case: "path", value: "/users.v1.Users/Get" });
    assert.equal(routes[0].action?.$case === "route" && routes[0].action.value.retryPolicy, undefined, "retries: 0 overrides 2");
    assert.deepEqual(routes[0].action?.$case === "route" && routes[0].action.value.timeout, { seconds: 0n, nanos: 500_000_000 });
    assert.deepEqual(routes[1].match?.pathSpecifier, { $case: "prefix", value: "/users.v1.Users/" });
    const rp = routes[1].action?.$case === "route" ? routes[1].action.value.retryPolicy : undefined;
    assert.equal(rp?.retryOn, "unavailable,reset");
    assert.equal(rp.numRetries, 2);
    assert.deepEqual(rp.retriableStatusCodes, []);
    assert.deepEqual(rp.perTryTimeout, { seconds: 0n, nanos: 700_000_000 });
    assert.equal(routes[2].match?.caseSensitive, false);
    assert.deepEqual(routes[2].match?.headers.map((h) => [h.name, h.headerMatchSpecifier?.$case, h.invertMatch]), [
      ["x-canary", "stringMatch", false],
      ["x-debug", "presentMatch", true],
      ["x-tenant", "stringMatch", false],
    ]);
    assert.equal(routes[4].match?.pathSpecifier?.$case, "safeRegex");
    assert.deepEqual(routes[5].match?.pathSpecifier, { $case: "prefix", value: "/" });
    const web = routes[5].action?.$case === "route" ? routes[5].action.value : undefined;
    assert.deepEqual(web?.timeout, { seconds: 15n, nanos: 0 }, "http2: Envoy's 15 s");
    assert.equal(web.maxStreamDuration, undefined);
  });
});

void describe("determinism and encoding", () => {
  for (const [name, mesh] of [
    ["example", example],
    ["full", full],
  ] as const) {
    for (const node of [sidecar("frontend"), proxyless]) {
      void test(`${name}, ${node.proxyless ? "proxyless" : "sidecar"}: translating twice gives identical bytes`, () => {
        assert.deepEqual(encodeAll(translateMesh(mesh, node)), encodeAll(translateMesh(mesh, node)));
      });

      void test(`${name}, ${node.proxyless ? "proxyless" : "sidecar"}: every resource round-trips through the generated codecs`, () => {
        const r = translateMesh(mesh, node);
        for (const c of r.clusters) assert.deepEqual(Cluster.decode(Cluster.encode(c).finish()), Cluster.fromPartial(c));
        for (const e of r.endpoints) {
          assert.deepEqual(ClusterLoadAssignment.decode(ClusterLoadAssignment.encode(e).finish()), ClusterLoadAssignment.fromPartial(e));
        }
        for (const l of r.listeners) assert.deepEqual(Listener.decode(Listener.encode(l).finish()), Listener.fromPartial(l));
        for (const rc of r.routes) {
          assert.deepEqual(RouteConfiguration.decode(RouteConfiguration.encode(rc).finish()), RouteConfiguration.fromPartial(rc));
        }
      });
    }
  }

  void test("reordering mesh.yaml does not change the bytes", () => {
    const doc = baseMesh();
    (doc.upstreams as unknown[]).push({ name: "alpha", nodes: [{ address: "10.0.0.1:1" }] });
    (doc.routes as { rules: unknown[] }[])[0].rules.unshift({ match: { prefix: "/a" }, upstream: "alpha" });
    const a = validateMesh(doc);
    (doc.upstreams as unknown[]).reverse();
    const b = validateMesh(doc);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(encodeAll(translateMesh(a.mesh, sidecar("x"))), encodeAll(translateMesh(b.mesh, sidecar("x"))));
  });
});
