/**
 * The ADS server's wire protocol, driven by raw grpc-js ADS clients (the generated client): SotW
 * subscriptions, ACK/NACK bookkeeping, no re-send of NACKed content (not even after a reconnect),
 * stale nonces, make-before-break ordering, and the delta variant.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type * as http from "node:http";
import { controlPlaneAdminPort, startControlPlaneAdmin, stopControlPlaneAdmin } from "../../src/control-plane/admin-server.js";
import { TypeUrl } from "../../src/xds/type-urls.js";
import { buildResources } from "../unit/control-plane/fixtures.js";
import { DeltaClient, SotwClient, startHarness, testNode, type Harness } from "../unit/control-plane/ads-harness.js";

const QUIET_MS = 300;

void describe("SotW ADS", () => {
  let h: Harness;
  let admin: http.Server;
  let adminPort: number;
  void before(async () => {
    h = await startHarness(buildResources({ ports: [50051] }));
    admin = await startControlPlaneAdmin("127.0.0.1", 0, { registry: h.registry, metrics: h.metrics, isReady: () => true, configView: () => ({}) });
    adminPort = controlPlaneAdminPort(admin);
  });
  void after(async () => {
    await stopControlPlaneAdmin(admin);
    await h.close();
  });

  void it("answers a wildcard LDS request with every listener and records the ACK", async () => {
    const c = new SotwClient(h.port);
    try {
      c.send({ node: testNode("wild"), typeUrl: TypeUrl.LISTENER });
      const r = await c.responses.next();
      assert.equal(r.typeUrl, TypeUrl.LISTENER);
      assert.equal(r.resources.length, 1);
      assert.equal(r.controlPlane?.identifier, "test");
      c.send({ typeUrl: TypeUrl.LISTENER, versionInfo: r.versionInfo, responseNonce: r.nonce });
      assert.equal(await c.responses.maybe(QUIET_MS), undefined, "an ACK is not answered");
      const st = h.registry.list().find((s) => s.node.id === "wild")!.types.get(TypeUrl.LISTENER)!;
      assert.equal(st.versionAcked, r.versionInfo);
      assert.equal(st.versionSent, r.versionInfo);
    } finally {
      c.close();
    }
  });

  void it("answers named subscriptions (as grpc-js-xds sends them), only with the names asked for", async () => {
    const c = new SotwClient(h.port);
    try {
      c.send({ node: testNode("named", "gRPC Node Pure JS"), typeUrl: TypeUrl.ROUTE, resourceNames: ["nope"] });
      const empty = await c.responses.next();
      assert.equal(empty.resources.length, 0);
      c.send({ typeUrl: TypeUrl.ROUTE, resourceNames: ["nope", "echo-route"], versionInfo: empty.versionInfo, responseNonce: empty.nonce });
      const r = await c.responses.next();
      assert.equal(r.resources.length, 1, "a subscription change is answered");
      c.send({ typeUrl: TypeUrl.CLUSTER, resourceNames: ["echo"] });
      const cds = await c.responses.next();
      assert.equal(cds.typeUrl, TypeUrl.CLUSTER);
      assert.equal(cds.resources.length, 1);
      assert.equal(h.registry.list().find((s) => s.node.id === "named")!.node.proxyless, true);
    } finally {
      c.close();
    }
  });

  void it("pushes only changed types, in make-before-break order, after the previous ACK", async () => {
    h.publish(buildResources({ ports: [50051] }));
    const c = new SotwClient(h.port);
    try {
      const versions = new Map<string, { v: string; n: string }>();
      const subscribe = (typeUrl: TypeUrl, names: string[]) => c.send({ node: testNode("order"), typeUrl, resourceNames: names });
      // Reverse order on purpose: the server's order, not the client's, must show on a change.
      subscribe(TypeUrl.ROUTE, ["*"]);
      subscribe(TypeUrl.LISTENER, []);
      subscribe(TypeUrl.ENDPOINT, ["*"]);
      subscribe(TypeUrl.CLUSTER, []);
      for (let i = 0; i < 4; i++) {
        const r = await c.responses.next();
        versions.set(r.typeUrl, { v: r.versionInfo, n: r.nonce });
        c.send({ typeUrl: r.typeUrl, resourceNames: r.typeUrl === TypeUrl.ROUTE || r.typeUrl === TypeUrl.ENDPOINT ? ["*"] : [], versionInfo: r.versionInfo, responseNonce: r.nonce });
      }
      assert.equal(await c.responses.maybe(QUIET_MS), undefined);
      // Everything renamed: all four types change.
      h.publish(buildResources({ ports: [50052], listener: "l2", route: "r2", cluster: "c2" }));
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await c.responses.next();
        order.push(r.typeUrl);
        assert.notEqual(r.versionInfo, versions.get(r.typeUrl)!.v);
        c.send({ typeUrl: r.typeUrl, resourceNames: r.typeUrl === TypeUrl.ROUTE || r.typeUrl === TypeUrl.ENDPOINT ? ["*"] : [], versionInfo: r.versionInfo, responseNonce: r.nonce });
      }
      assert.deepEqual(order, [TypeUrl.CLUSTER, TypeUrl.ENDPOINT, TypeUrl.LISTENER, TypeUrl.ROUTE]);
      // Only the endpoints change now.
      h.publish(buildResources({ ports: [50053], listener: "l2", route: "r2", cluster: "c2" }));
      const eds = await c.responses.next();
      assert.equal(eds.typeUrl, TypeUrl.ENDPOINT);
      assert.equal(await c.responses.maybe(QUIET_MS), undefined, "unchanged types are not re-sent");
    } finally {
      c.close();
      h.publish(buildResources({ ports: [50051] }));
    }
  });

  void it("ignores a stale nonce", async () => {
    const c = new SotwClient(h.port);
    try {
      c.send({ node: testNode("stale"), typeUrl: TypeUrl.CLUSTER });
      const first = await c.responses.next();
      c.send({ typeUrl: TypeUrl.CLUSTER, versionInfo: first.versionInfo, responseNonce: first.nonce });
      h.publish(buildResources({ ports: [50051], cluster: "other" }));
      const second = await c.responses.next();
      assert.notEqual(second.nonce, first.nonce);
      // A request answering the old response (and asking for a change) is stale: no answer, no record.
      c.send({ typeUrl: TypeUrl.CLUSTER, resourceNames: ["x"], versionInfo: first.versionInfo, responseNonce: first.nonce, errorDetail: { code: 14, message: "late", details: [] } });
      assert.equal(await c.responses.maybe(QUIET_MS), undefined);
      const st = h.registry.list().find((s) => s.node.id === "stale")!.types.get(TypeUrl.CLUSTER)!;
      assert.equal(st.lastNack, null);
    } finally {
      c.close();
      h.publish(buildResources({ ports: [50051] }));
    }
  });

  void it("records a NACK in /nodes and /metrics and never re-sends the NACKed content, not even after a reconnect", async () => {
    h.publish(buildResources({ ports: [50051] }));
    const c = new SotwClient(h.port);
    let badVersion: string;
    try {
      c.send({ node: testNode("nacker"), typeUrl: TypeUrl.ENDPOINT, resourceNames: ["echo"] });
      const good = await c.responses.next();
      c.send({ typeUrl: TypeUrl.ENDPOINT, resourceNames: ["echo"], versionInfo: good.versionInfo, responseNonce: good.nonce });
      h.publish(buildResources({ ports: [50052] }));
      const bad = await c.responses.next();
      badVersion = bad.versionInfo;
      c.send({
        typeUrl: TypeUrl.ENDPOINT,
        resourceNames: ["echo"],
        versionInfo: good.versionInfo,
        responseNonce: bad.nonce,
        errorDetail: { code: 14, message: "echo: endpoints[0].lb_endpoints[0]: port 50052 is cursed", details: [] },
      });
      assert.equal(await c.responses.maybe(QUIET_MS), undefined, "a NACK is not answered with the same content");
      h.cache.refresh();
      assert.equal(await c.responses.maybe(QUIET_MS), undefined, "a refresh with the same content does not re-send");

      const nodes = (await (await fetch(`http://127.0.0.1:${adminPort}/nodes`)).json()) as {
        nodes: { id: string; stream: string; types: Record<string, { version_sent: string; version_acked: string; last_nack: { version: string; error: string; time: string } | null }> }[];
      };
      const n = nodes.nodes.find((x) => x.id === "nacker")!;
      assert.equal(n.stream, "sotw");
      assert.equal(n.types.eds.version_acked, good.versionInfo);
      assert.equal(n.types.eds.version_sent, badVersion);
      assert.equal(n.types.eds.last_nack!.version, badVersion);
      assert.match(n.types.eds.last_nack!.error, /cursed/);
      assert.ok(!Number.isNaN(Date.parse(n.types.eds.last_nack!.time)));
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      assert.match(metrics, /pilotfish_xds_nacks_total\{type="eds"\} 1/);
      assert.match(metrics, /pilotfish_xds_streams\{kind="sotw"\} [1-9]/);
      assert.match(metrics, /pilotfish_xds_push_latency_seconds_count\{type="eds"\} [1-9]/);
    } finally {
      c.close();
    }

    // Reconnect holding the good version: the NACKed content is withheld.
    const again = new SotwClient(h.port);
    try {
      again.send({ node: testNode("nacker"), typeUrl: TypeUrl.ENDPOINT, resourceNames: ["echo"], versionInfo: "some-good-version" });
      assert.equal(await again.responses.maybe(QUIET_MS), undefined, "NACKed content is not re-sent on a reconnect");
      // New content goes out.
      h.publish(buildResources({ ports: [50053] }));
      const fixed = await again.responses.next();
      assert.notEqual(fixed.versionInfo, badVersion);
    } finally {
      again.close();
    }
  });

  void it("rejects a stream whose first request has no node", async () => {
    const c = new SotwClient(h.port);
    try {
      c.send({ typeUrl: TypeUrl.LISTENER });
      assert.equal(await c.responses.maybe(QUIET_MS), undefined);
      assert.ok(!h.registry.list().some((s) => s.node.id === ""));
    } finally {
      c.close();
    }
  });
});

void describe("delta ADS", () => {
  let h: Harness;
  void before(async () => {
    h = await startHarness(buildResources({ ports: [50051] }));
  });
  void after(() => h.close());

  void it("sends per-resource versions, only changes, removals, and honours initial_resource_versions", async () => {
    const c = new DeltaClient(h.port);
    let clusterVersion: string;
    try {
      c.send({ node: testNode("delta"), typeUrl: TypeUrl.CLUSTER });
      const r = await c.responses.next();
      assert.deepEqual(r.resources.map((x) => x.name), ["echo"]);
      clusterVersion = r.resources[0].version;
      assert.ok(r.systemVersionInfo !== "");
      c.send({ typeUrl: TypeUrl.CLUSTER, responseNonce: r.nonce });
      assert.equal(await c.responses.maybe(QUIET_MS), undefined);
      assert.equal(h.registry.list().find((s) => s.node.id === "delta")!.types.get(TypeUrl.CLUSTER)!.versionAcked, r.systemVersionInfo);

      // Add a cluster: only the new one is sent.
      const base = buildResources({ ports: [50051] });
      const extra = buildResources({ ports: [50052], cluster: "b", listener: "lb", route: "rb" });
      h.publish({ ...base, clusters: [...base.clusters, ...extra.clusters], endpoints: [...base.endpoints, ...extra.endpoints] });
      const add = await c.responses.next();
      assert.deepEqual(add.resources.map((x) => x.name), ["b"]);
      c.send({ typeUrl: TypeUrl.CLUSTER, responseNonce: add.nonce });
      // Remove it again.
      h.publish(base);
      const rm = await c.responses.next();
      assert.deepEqual(rm.resources, []);
      assert.deepEqual(rm.removedResources, ["b"]);
      c.send({ typeUrl: TypeUrl.CLUSTER, responseNonce: rm.nonce });

      // A named subscription to something absent is answered in removed_resources.
      c.send({ typeUrl: TypeUrl.ENDPOINT, resourceNamesSubscribe: ["ghost", "echo"] });
      const eds = await c.responses.next();
      assert.deepEqual(eds.resources.map((x) => x.name), ["echo"]);
      assert.deepEqual(eds.removedResources, ["ghost"]);
    } finally {
      c.close();
    }

    const re = new DeltaClient(h.port);
    try {
      re.send({ node: testNode("delta"), typeUrl: TypeUrl.CLUSTER, initialResourceVersions: { echo: clusterVersion } });
      assert.equal(await re.responses.maybe(QUIET_MS), undefined, "what the client already holds is not re-sent");
    } finally {
      re.close();
    }
  });

  void it("does not re-send a NACKed resource version", async () => {
    h.publish(buildResources({ ports: [50051] }));
    const c = new DeltaClient(h.port);
    try {
      c.send({ node: testNode("delta-nack"), typeUrl: TypeUrl.ENDPOINT, resourceNamesSubscribe: ["echo"] });
      const good = await c.responses.next();
      const goodVersion = good.resources[0].version;
      c.send({ typeUrl: TypeUrl.ENDPOINT, responseNonce: good.nonce });
      h.publish(buildResources({ ports: [50052] }));
      const bad = await c.responses.next();
      c.send({ typeUrl: TypeUrl.ENDPOINT, responseNonce: bad.nonce, errorDetail: { code: 14, message: "nope", details: [] } });
      h.cache.refresh();
      assert.equal(await c.responses.maybe(QUIET_MS), undefined);
      const st = h.registry.list().find((s) => s.node.id === "delta-nack")!.types.get(TypeUrl.ENDPOINT)!;
      assert.equal(st.lastNack?.error, "nope");
      c.close();

      const re = new DeltaClient(h.port);
      try {
        re.send({ node: testNode("delta-nack"), typeUrl: TypeUrl.ENDPOINT, resourceNamesSubscribe: ["echo"], initialResourceVersions: { echo: goodVersion } });
        assert.equal(await re.responses.maybe(QUIET_MS), undefined, "not re-sent on reconnect either");
        h.publish(buildResources({ ports: [50053] }));
        const next = await re.responses.next();
        assert.deepEqual(next.resources.map((x) => x.name), ["echo"]);
      } finally {
        re.close();
      }
    } finally {
      c.close();
    }
  });
});
