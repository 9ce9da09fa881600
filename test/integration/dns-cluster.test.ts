/**
 * STRICT_DNS and LOGICAL_DNS clusters in the real sidecar against a real DNS server (dns2 on
 * 127.0.0.1) and real h2 upstreams on 127.0.0.2, .3, .4 sharing one port (A records carry no port):
 * traffic follows the A records, a host that stays keeps its counters, a resolver outage keeps the last
 * answer, respect_dns_ttl paces the queries, and LOGICAL_DNS moves new connections only.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject, clusterObject } from "../helpers/bootstrap.js";
import { createDnsResolver } from "../../src/upstream/dns-resolver.js";
import { TestDnsServer } from "../helpers/dns-server.js";
import { startLoopbackUpstreams, type LoopbackUpstreams } from "../helpers/loopback-upstreams.js";
import { connectH2, type H2Client } from "../helpers/programmable-upstreams.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { http1Request, until } from "../helpers/util.js";
import { stringify } from "yaml";

const CARES = "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";

function dnsCluster(name: string, type: string, host: string, port: number, dns: TestDnsServer, extra: Record<string, unknown> = {}) {
  const c = clusterObject({ name, endpoints: [{ host, port }] });
  return {
    ...c,
    type,
    dns_lookup_family: "V4_ONLY",
    typed_dns_resolver_config: {
      name: "envoy.network.dns_resolver.cares",
      typed_config: { "@type": CARES, resolvers: [{ socket_address: { address: "127.0.0.1", port_value: dns.address.port } }] },
    },
    ...extra,
  };
}

interface HostStatus {
  address: { socket_address: { address: string; port_value: number } };
  stats: { rq_total: number };
}

async function hostsOf(sc: Sidecar, cluster: string): Promise<HostStatus[]> {
  const res = await http1Request({ port: sc.adminPort!, path: "/clusters?format=json" });
  const doc = JSON.parse(res.body) as { cluster_statuses: { name: string; host_statuses: HostStatus[] }[] };
  return doc.cluster_statuses.find((c) => c.name === cluster)?.host_statuses ?? [];
}

async function hostIps(sc: Sidecar, cluster: string): Promise<string[]> {
  return (await hostsOf(sc, cluster)).map((h) => h.address.socket_address.address).sort();
}

async function stat(sc: Sidecar, name: string): Promise<number> {
  const res = await http1Request({ port: sc.adminPort!, path: "/stats" });
  return parseStats(res.body).get(name) ?? 0;
}

/** Sends `n` requests to `path`; returns how many each upstream answered (all must succeed). */
async function spread(client: H2Client, path: string, n: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await client.request({ path });
    assert.equal(r.status, 200, `request ${i} to ${path}: ${r.status} ${r.body.toString()}`);
    const ip = String(r.headers["x-upstream"]);
    out.set(ip, (out.get(ip) ?? 0) + 1);
  }
  return out;
}

void describe("DNS clusters", { timeout: 60_000 }, () => {
  let dns: TestDnsServer;
  /** A second server for the TTL clusters, so that the outage test does not touch them. */
  let ttlDns: TestDnsServer;
  let up: LoopbackUpstreams;
  let sc: Sidecar;
  let client: H2Client;

  before(async () => {
    dns = await TestDnsServer.create();
    up = await startLoopbackUpstreams();
    dns.setA("strict.test", ["127.0.0.2", "127.0.0.3"]);
    dns.setA("logical.test", ["127.0.0.2"]);
    ttlDns = await TestDnsServer.create();
    ttlDns.setA("ttl.test", ["127.0.0.2"], 1);
    ttlDns.setA("nottl.test", ["127.0.0.2"], 1);
    const doc = bootstrapObject({
      listeners: [
        {
          name: "outbound",
          routes: [
            { prefix: "/strict", cluster: "strict" },
            { prefix: "/logical", cluster: "logical" },
          ],
        },
      ],
      clusters: [],
    });
    (doc.static_resources as { clusters: unknown[] }).clusters = [
      dnsCluster("strict", "STRICT_DNS", "strict.test", up.port, dns, { dns_refresh_rate: "0.1s", lb_policy: "ROUND_ROBIN" }),
      dnsCluster("logical", "LOGICAL_DNS", "logical.test", up.port, dns, { dns_refresh_rate: "0.1s" }),
      // TTL 1 s against a 60 s refresh rate: only respect_dns_ttl makes a second query happen soon.
      dnsCluster("ttl", "STRICT_DNS", "ttl.test", up.port, ttlDns, { dns_refresh_rate: "60s", respect_dns_ttl: true }),
      dnsCluster("nottl", "STRICT_DNS", "nottl.test", up.port, ttlDns, { dns_refresh_rate: "60s" }),
    ];
    sc = await startSidecar(stringify(doc));
    client = await connectH2(`http://127.0.0.1:${sc.port("outbound")}`);
  });

  after(async () => {
    client?.close();
    await sc?.stop();
    await up?.closeAll();
    await dns?.stop();
    await ttlDns?.stop();
  });

  void it("STRICT_DNS: every A record is a host; traffic follows added and removed records; staying hosts keep their counters", async () => {
    await until("both A records become hosts", 5000, async () => (await hostIps(sc, "strict")).join() === "127.0.0.2,127.0.0.3");
    const first = await spread(client, "/strict", 20);
    assert.deepEqual([...first.keys()].sort(), ["127.0.0.2", "127.0.0.3"], "round robin over both addresses");
    const before2 = (await hostsOf(sc, "strict")).find((h) => h.address.socket_address.address === "127.0.0.2")!;
    assert.equal(before2.address.socket_address.port_value, up.port, "the endpoint's port");
    assert.ok(before2.stats.rq_total >= 10);

    dns.setA("strict.test", ["127.0.0.2", "127.0.0.4"]);
    await until("the new answer replaces .3 with .4", 5000, async () => (await hostIps(sc, "strict")).join() === "127.0.0.2,127.0.0.4");
    const second = await spread(client, "/strict", 20);
    assert.equal(second.get("127.0.0.3"), undefined, "no traffic to the removed address");
    assert.equal(second.get("127.0.0.4"), 10, "the added address takes its share");
    const after2 = (await hostsOf(sc, "strict")).find((h) => h.address.socket_address.address === "127.0.0.2")!;
    assert.equal(after2.stats.rq_total, before2.stats.rq_total + 10, "the staying host kept its counters (not a new host)");
    assert.equal(up.sessions.get("127.0.0.2")!.length, 1, "the staying host kept its connection");
    assert.ok((await stat(sc, "cluster.strict.update_success")) >= 2);
  });

  void it("STRICT_DNS: with the DNS server down, traffic keeps flowing on the last answer", async () => {
    dns.setA("strict.test", ["127.0.0.2", "127.0.0.4"]);
    await until("hosts are .2 and .4", 5000, async () => (await hostIps(sc, "strict")).join() === "127.0.0.2,127.0.0.4");
    await dns.stop();
    try {
      const failures = await stat(sc, "cluster.strict.update_failure");
      await until("resolutions fail", 5000, async () => (await stat(sc, "cluster.strict.update_failure")) >= failures + 2);
      assert.deepEqual(await hostIps(sc, "strict"), ["127.0.0.2", "127.0.0.4"], "the last answer stays");
      const during = await spread(client, "/strict", 10);
      assert.deepEqual([...during.keys()].sort(), ["127.0.0.2", "127.0.0.4"]);
    } finally {
      await dns.start();
    }
    dns.setA("strict.test", ["127.0.0.3"]);
    await until("the cluster follows DNS again once it is back", 5000, async () => (await hostIps(sc, "strict")).join() === "127.0.0.3");
  });

  void it("respect_dns_ttl: the records' TTL, not dns_refresh_rate, paces the queries", async () => {
    await until("three queries for the 1 s TTL name", 10_000, () => ttlDns.queriesFor("ttl.test") >= 3);
    assert.equal(ttlDns.queriesFor("nottl.test"), 1, "without respect_dns_ttl the 60 s refresh rate holds");
  });

  void it("LOGICAL_DNS: one host; existing connections stay, new ones go to the latest answer's first address", async () => {
    await until("the logical host exists", 5000, async () => (await hostIps(sc, "logical")).join() === "127.0.0.2");
    assert.deepEqual(await spread(client, "/logical", 3), new Map([["127.0.0.2", 3]]));
    dns.setA("logical.test", ["127.0.0.3", "127.0.0.4"]);
    await until("the logical host moves to .3", 5000, async () => (await hostIps(sc, "logical")).join() === "127.0.0.3");
    assert.deepEqual(await spread(client, "/logical", 3), new Map([["127.0.0.2", 3]]), "the open connection keeps its address");
    // .2 goes away: the pool reconnects, to where the answer points now.
    for (const sess of up.sessions.get("127.0.0.2")!) sess.destroy();
    await until("a request reaches .3", 5000, async () => {
      const r = await client.request({ path: "/logical" });
      return r.status === 200 && r.headers["x-upstream"] === "127.0.0.3";
    });
    assert.equal((await hostsOf(sc, "logical")).length, 1);
  });
});

void describe("the node:dns resolver against a real DNS server", { timeout: 20_000 }, () => {
  void it("applies search domains, keeps NXDOMAIN empty, and fails while the server is down", async () => {
    const server = await TestDnsServer.create();
    try {
      server.setA("payments.ns.svc.test", ["127.0.0.2", "127.0.0.3"], 30);
      const r = createDnsResolver([server.address], { domains: ["ns.svc.test", "svc.test"], ndots: 5 });
      assert.deepEqual(await r.resolve("payments", "V4_ONLY"), { addresses: ["127.0.0.2", "127.0.0.3"], ttlSeconds: 30 });
      assert.deepEqual(await r.resolve("missing", "V4_ONLY"), { addresses: [], ttlSeconds: 0 }, "NXDOMAIN everywhere is an empty answer");
      assert.deepEqual(await r.resolve("localhost", "V4_ONLY"), { addresses: ["127.0.0.1"], ttlSeconds: 0 });
      await server.stop();
      await assert.rejects(r.resolve("payments.ns.svc.test.", "V4_ONLY"), (e: NodeJS.ErrnoException) => e.code !== undefined);
    } finally {
      await server.stop();
    }
  });
});
