/**
 * A STRICT_DNS cluster delivered over CDS (as the discovery server's DNS discovery will send it: a
 * load_assignment whose endpoints carry host names, no EDS) works like a static one: the sidecar
 * resolves it against a real DNS server, routes to every address, follows changes, and /clusters and
 * /config_dump show it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { AdsMetrics } from "../../src/control-plane/ads-server-metrics.js";
import { AdsServer } from "../../src/control-plane/ads-server.js";
import { NodeRegistry } from "../../src/control-plane/node-registry.js";
import { SnapshotCache } from "../../src/control-plane/snapshot-cache.js";
import type { XdsResources } from "../../src/control-plane/xds-resources.js";
import { Cluster, Cluster_DiscoveryType, Cluster_DnsLookupFamily } from "../../src/gen/envoy/config/cluster/v3/cluster.js";
import { Listener } from "../../src/gen/envoy/config/listener/v3/listener.js";
import { CaresDnsResolverConfig } from "../../src/gen/envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.js";
import { HttpConnectionManager } from "../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { HttpProtocolOptions } from "../../src/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import { adsSidecarBootstrap } from "../helpers/control-plane.js";
import { TestDnsServer } from "../helpers/dns-server.js";
import { startLoopbackUpstreams, type LoopbackUpstreams } from "../helpers/loopback-upstreams.js";
import { connectH2, type H2Client } from "../helpers/programmable-upstreams.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort, http1Request, until } from "../helpers/util.js";

const T = "type.googleapis.com/";
const socket = (address: string, port: number) => ({
  address: { $case: "socketAddress" as const, value: { address, portSpecifier: { $case: "portValue" as const, value: port } } },
});

function resources(listenerPort: number, upstreamPort: number, dnsPort: number): XdsResources {
  const cares = CaresDnsResolverConfig.encode(CaresDnsResolverConfig.fromPartial({ resolvers: [socket("127.0.0.1", dnsPort)] })).finish();
  const h2 = HttpProtocolOptions.encode(
    HttpProtocolOptions.fromPartial({ upstreamProtocolOptions: { $case: "explicitHttpConfig", value: { protocolConfig: { $case: "http2ProtocolOptions", value: {} } } } }),
  ).finish();
  const cluster = Cluster.fromPartial({
    name: "svc",
    type: Cluster_DiscoveryType.STRICT_DNS,
    connectTimeout: { seconds: 1n, nanos: 0 },
    dnsRefreshRate: { seconds: 0n, nanos: 100_000_000 },
    dnsLookupFamily: Cluster_DnsLookupFamily.V4_ONLY,
    typedDnsResolverConfig: { name: "envoy.network.dns_resolver.cares", typedConfig: { typeUrl: `${T}envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig`, value: Buffer.from(cares) } },
    typedExtensionProtocolOptions: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { typeUrl: `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, value: Buffer.from(h2) },
    },
    loadAssignment: { clusterName: "svc", endpoints: [{ lbEndpoints: [{ endpoint: { address: socket("svc.mesh.test", upstreamPort) } }] }] },
  });
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: "out",
    routeSpecifier: {
      $case: "routeConfig",
      value: {
        name: "r",
        virtualHosts: [
          { name: "vh", domains: ["*"], routes: [{ match: { pathSpecifier: { $case: "prefix", value: "/" } }, action: { $case: "route", value: { clusterSpecifier: { $case: "cluster", value: "svc" } } } }] },
        ],
      },
    },
    httpFilters: [{ name: "envoy.filters.http.router", typedConfig: { typeUrl: `${T}envoy.extensions.filters.http.router.v3.Router`, value: Buffer.alloc(0) } }],
  });
  const listener = Listener.fromPartial({
    name: "out",
    address: socket("127.0.0.1", listenerPort),
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: { typeUrl: `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`, value: Buffer.from(HttpConnectionManager.encode(hcm).finish()) },
          },
        ],
      },
    ],
  });
  return { clusters: [cluster], endpoints: [], listeners: [listener], routes: [] };
}

void describe("STRICT_DNS cluster over CDS", { timeout: 60_000 }, () => {
  let dns: TestDnsServer;
  let up: LoopbackUpstreams;
  let ads: AdsServer;
  let sc: Sidecar;
  let client: H2Client;

  before(async () => {
    dns = await TestDnsServer.create();
    up = await startLoopbackUpstreams(["127.0.0.2", "127.0.0.3"]);
    dns.setA("svc.mesh.test", ["127.0.0.2"]);
    const listenerPort = await closedPort();
    const registry = new NodeRegistry();
    const current = resources(listenerPort, up.port, dns.address.port);
    ads = new AdsServer({ cache: new SnapshotCache(() => current), registry, metrics: new AdsMetrics(registry), log: pino({ level: "silent" }) });
    const xdsPort = await ads.start("127.0.0.1", 0);
    sc = await startSidecar(adsSidecarBootstrap(xdsPort, { nodeId: "dns-cds" }));
    await until("the sidecar is ready", 10_000, async () => (await http1Request({ port: sc.adminPort!, path: "/ready" })).status === 200);
    client = await connectH2(`http://127.0.0.1:${listenerPort}`);
  });

  after(async () => {
    client?.close();
    await sc?.stop();
    await ads?.stop(100);
    await up?.closeAll();
    await dns?.stop();
  });

  void it("routes to the resolved addresses and follows the A records", async () => {
    await until("a request reaches 127.0.0.2", 5000, async () => (await client.request({ path: "/" })).headers["x-upstream"] === "127.0.0.2");
    dns.setA("svc.mesh.test", ["127.0.0.2", "127.0.0.3"]);
    const seen = new Set<string>();
    await until("both addresses take traffic", 5000, async () => {
      const r = await client.request({ path: "/" });
      assert.equal(r.status, 200);
      seen.add(String(r.headers["x-upstream"]));
      return seen.size === 2;
    });
    const clusters = await http1Request({ port: sc.adminPort!, path: "/clusters?format=json" });
    const svc = (JSON.parse(clusters.body) as { cluster_statuses: { name: string; host_statuses: { address: { socket_address: { address: string } }; hostname: string }[] }[] }).cluster_statuses.find((c) => c.name === "svc");
    assert.deepEqual(svc?.host_statuses.map((h) => h.address.socket_address.address).sort(), ["127.0.0.2", "127.0.0.3"]);
    assert.ok(svc?.host_statuses.every((h) => h.hostname === "svc.mesh.test"), "hosts carry the DNS name");
    const dump = await http1Request({ port: sc.adminPort!, path: "/config_dump" });
    const doc = JSON.parse(dump.body) as {
      dynamic_resources: { cds: { resources: { name: string; config: { type: string; dns: { refreshRateMs: number } } }[] } };
      dns_clusters: Record<string, { type: string; hosts: { address: string }[] }>;
    };
    const cds = doc.dynamic_resources.cds.resources.find((r) => r.name === "svc");
    assert.equal(cds?.config.type, "STRICT_DNS");
    assert.equal(cds?.config.dns.refreshRateMs, 100);
    assert.deepEqual(doc.dns_clusters.svc.hosts.map((h) => h.address).sort(), ["127.0.0.2", "127.0.0.3"]);
  });
});
