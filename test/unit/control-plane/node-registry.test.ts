import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { NodeRegistry, nodeIdentityOf } from "../../../src/control-plane/node-registry.js";
import { TypeUrl } from "../../../src/xds/type-urls.js";
import { testNode } from "./ads-harness.js";

void describe("NodeRegistry", () => {
  void it("derives proxyless from the gRPC user agent", () => {
    assert.equal(nodeIdentityOf(testNode("a", "gRPC Node Pure JS")).proxyless, true);
    assert.equal(nodeIdentityOf(testNode("a", "envoy")).proxyless, false);
  });

  void it("lists open streams with per-type state as /nodes JSON", () => {
    const r = new NodeRegistry();
    const s = r.open("delta", testNode("n1"));
    const st = r.typeStatus(s, TypeUrl.CLUSTER);
    st.versionSent = "v2";
    st.versionAcked = "v1";
    st.lastNack = { version: "v2", error: "bad", time: "2026-01-01T00:00:00.000Z" };
    const json = r.toJSON() as { nodes: Record<string, unknown>[] };
    assert.equal(json.nodes.length, 1);
    const n = json.nodes[0];
    assert.equal(n.id, "n1");
    assert.equal(n.cluster, "frontend");
    assert.equal(n.stream, "delta");
    assert.equal(n.user_agent_name, "pilotfish-test");
    assert.deepEqual(n.types, { cds: { version_sent: "v2", version_acked: "v1", last_nack: { version: "v2", error: "bad", time: "2026-01-01T00:00:00.000Z" } } });
    assert.equal(r.count("delta"), 1);
    assert.equal(r.count("sotw"), 0);
    r.close(s);
    assert.equal(r.count(), 0);
  });

  void it("keeps NACK memory per node id across streams, and only for nodes that NACKed", () => {
    const r = new NodeRegistry();
    const s = r.open("sotw", testNode("n1"));
    assert.equal(r.peekNackMemory("n1"), undefined);
    r.nackMemory("n1").sotw.set(TypeUrl.ENDPOINT, "key");
    r.close(s);
    assert.equal(r.peekNackMemory("n1")?.sotw.get(TypeUrl.ENDPOINT), "key");
  });
});
