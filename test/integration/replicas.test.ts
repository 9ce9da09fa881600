/**
 * Two discovery-server replicas (real processes, the same mesh.yaml) and a real sidecar whose xDS
 * cluster lists both: killing the replica the sidecar is connected to moves its ADS stream to the other
 * at once, calls through the sidecar keep succeeding, and nothing is rebuilt: the versions are content
 * hashes, identical on both replicas, so the second replica pushes nothing the sidecar already holds
 * (SotW: no LDS/CDS response at all, RDS/EDS identical and a no-op; delta: nothing at all). And a
 * sidecar whose first xDS endpoint is down from the start gets its config from the next one.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseStats } from "../helpers/admin.js";
import { adsSidecarBootstrap, type ControlPlane, echoMeshYaml, startControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort, until } from "../helpers/util.js";

const NODE_ID = "frontend-1";

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface NodeView {
  id: string;
  types: Record<string, { version_sent: string; version_acked: string; last_nack: unknown }>;
}

async function nodeOn(cp: ControlPlane): Promise<NodeView | undefined> {
  const body = (await cp.getJson("/nodes")) as { nodes: NodeView[] };
  return body.nodes.find((n) => n.id === NODE_ID);
}

async function stats(sc: Sidecar): Promise<Map<string, number>> {
  return parseStats(await (await fetch(`http://127.0.0.1:${sc.adminPort}/stats`)).text());
}

/** The counters that move when the sidecar applies a change or rebuilds a cluster or listener. */
const CHURN = [
  "xds.cds.config_reload",
  "xds.eds.config_reload",
  "xds.lds.config_reload",
  "xds.rds.config_reload",
  "cluster_manager.cluster_added",
  "cluster_manager.cluster_modified",
  "cluster_manager.cluster_removed",
  "listener_manager.listener_added",
  "listener_manager.listener_modified",
  "listener_manager.listener_removed",
];

function pick(all: Map<string, number>, names: readonly string[]): Record<string, number | undefined> {
  return Object.fromEntries(names.map((n) => [n, all.get(n)]));
}

/** Unary calls on `lanes` lanes until stopped; every outcome counted. */
function steadyTraffic(client: EchoClient, lanes = 2): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loops = Array.from({ length: lanes }, async () => {
    while (running) {
      const out = await unary(client, { message: "steady" }, { deadlineMs: 5000 });
      if (out.status.code === grpc.status.OK) ok++;
      else failed.push(`${out.status.code}: ${out.status.details}`);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

for (const delta of [false, true]) {
  void describe(`discovery server replicas over ${delta ? "delta" : "state-of-the-world"} xDS`, { timeout: 120_000 }, () => {
    const backends: EchoServer[] = [];
    const servers: ControlPlane[] = [];
    let sc: Sidecar | undefined;
    let client: EchoClient | undefined;
    after(async () => {
      client?.close();
      await sc?.stop();
      await Promise.all(servers.map((s) => s.kill()));
      await Promise.all(backends.map((b) => b.close()));
    });

    void test("killing the connected replica moves the sidecar to the other with no failed call and no config churn", async () => {
      backends.push(await startEchoServer({ name: "a" }), await startEchoServer({ name: "b" }));
      const listenerPort = await freePort();
      const mesh = (ports: readonly number[], upstream: string[] = []): string =>
        echoMeshYaml({ ports, listenerPort, listenerNodeCluster: "frontend", upstream });
      const [a, b] = backends as [EchoServer, EchoServer];
      // Two replicas, each with its own copy of the same mesh.yaml (as two pods mounting one ConfigMap).
      // One after the other: each is pushed before the next starts, so after() kills it even if the next fails.
      for (let i = 0; i < 2; i++) servers.push(await startControlPlane(mesh([a.port, b.port])));
      sc = await startSidecar(adsSidecarBootstrap(servers.map((s) => s.xdsPort), { delta }));
      const sidecar = sc;
      client = createEchoClient(listenerPort);
      const cl = client;
      await until("the listener from mesh.yaml to serve", 10_000, async () => {
        const out = await unary(cl, { message: "hello" }, { deadlineMs: 1000 });
        return out.status.code === grpc.status.OK;
      });
      // The stream came up before the listener could serve.
      const streamUpBy = Date.now();

      // Which replica holds the stream: exactly one lists the node. Wait until it ACKed every type.
      let connected: ControlPlane | undefined;
      await until("one replica to have the sidecar with every type ACKed", 10_000, async () => {
        const views = await Promise.all(servers.map(nodeOn));
        const holders = servers.filter((_, i) => views[i] !== undefined);
        if (holders.length !== 1) return false;
        const view = views[servers.indexOf(holders[0])]!;
        const types = ["cds", "eds", "lds", "rds"];
        if (!types.every((t) => (view.types[t]?.version_acked ?? "") !== "")) return false;
        connected = holders[0];
        return true;
      });
      const first = connected!;
      const other = servers.find((s) => s !== first)!;
      const ackedOnFirst = (await nodeOn(first))!.types;
      const before = await stats(sidecar);
      assert.equal(before.get("control_plane.connected_state"), 1);
      assert.ok((before.get("xds.cds.config_reload") ?? 0) >= 1, "the initial CDS response counted as a reload");

      const traffic = steadyTraffic(cl);
      const servedBefore = a.calls.length + b.calls.length;
      await until("traffic to flow", 5000, () => a.calls.length + b.calls.length > servedBefore + 20);
      // Immediate failover is for a stream that was up for a second or more (not for a flapping server).
      await until("the ADS stream to have been up for over a second", 5000, () => Date.now() - streamUpBy > 1500);

      const killedAt = Date.now();
      await first.kill("SIGKILL");
      await until("the other replica to list the sidecar", 10_000, async () => (await nodeOn(other)) !== undefined);
      const movedIn = Date.now() - killedAt;
      // Immediate failover, not the backoff: the stream had been up for longer than a second.
      assert.ok(movedIn < 3000, `the sidecar reached the other replica ${movedIn} ms after the kill`);
      const closes = sidecar.logs().filter((l) => l.msg === "xDS stream closed; keeping the last good config");
      const closedLog = closes.find((l) => l.server === `127.0.0.1:${first.xdsPort}`);
      assert.ok(closedLog, sidecar.tail());
      assert.equal(closes.length, 1, JSON.stringify(closes));
      assert.equal(closedLog.next_server, `127.0.0.1:${other.xdsPort}`);
      assert.ok(typeof closedLog.up_for_ms === "number" && closedLog.up_for_ms >= 1500, JSON.stringify(closedLog));
      assert.equal(closedLog.retry_in_ms, 0);

      if (!delta) {
        // RDS/EDS are asked for by name on the new stream and answered with the very same versions.
        await until("the other replica to see RDS and EDS ACKed", 10_000, async () => {
          const v = await nodeOn(other);
          return v !== undefined && v.types.rds?.version_acked !== "" && v.types.eds?.version_acked !== "";
        });
      }
      const served = a.calls.length + b.calls.length;
      await until("calls to keep flowing after the failover", 10_000, () => a.calls.length + b.calls.length > served + 50);
      const { ok, failed } = await traffic.stop();
      assert.deepEqual(failed, [], `no call may fail (ok ${ok})`);

      const view = (await nodeOn(other))!;
      for (const t of ["cds", "eds", "lds", "rds"]) {
        const s = view.types[t];
        if (delta) {
          // initial_resource_versions matched every resource: nothing to send.
          assert.equal(s?.version_sent ?? "", "", `delta ${t}: the other replica sent nothing`);
        } else if (t === "cds" || t === "lds") {
          // The presented version_info is the replica's own: no response, recorded as held.
          assert.equal(s?.version_sent, "", `${t}: no response from the other replica`);
          assert.equal(s?.version_acked, ackedOnFirst[t]?.version_acked, `${t}: the same version on both replicas`);
        } else {
          assert.equal(s?.version_sent, ackedOnFirst[t]?.version_acked, `${t}: the same version on both replicas`);
          assert.equal(s?.version_acked, ackedOnFirst[t]?.version_acked);
        }
      }

      const afterMove = await stats(sidecar);
      assert.equal(afterMove.get("control_plane.connected_state"), 1);
      assert.deepEqual(pick(afterMove, CHURN), pick(before, CHURN), "the failover changed no config and rebuilt nothing");
      for (const t of ["cds", "eds", "lds", "rds"]) assert.equal(afterMove.get(`xds.${t}.update_rejected`) ?? 0, 0);

      // The counters are live, and the replica that sent nothing for CDS still pushes real changes: a new
      // endpoint and a changed cluster setting are one more EDS and CDS reload and one cluster rebuild.
      const c = await startEchoServer({ name: "c" });
      backends.push(c);
      await other.writeMesh(mesh([a.port, b.port, c.port], ["    connectTimeout: 2s"]));
      const grew = (s: Map<string, number>, name: string): number => (s.get(name) ?? 0) - (before.get(name) ?? 0);
      await until("the edit to be applied", 10_000, async () => {
        const s = await stats(sidecar);
        return grew(s, "xds.eds.config_reload") === 1 && grew(s, "xds.cds.config_reload") === 1;
      });
      const afterEdit = await stats(sidecar);
      assert.equal(grew(afterEdit, "cluster_manager.cluster_modified"), 1, "the changed cluster was rebuilt once");
      assert.equal(grew(afterEdit, "cluster_manager.cluster_added"), 0);
      assert.equal(grew(afterEdit, "listener_manager.listener_modified"), 0, "the listener did not change");
      const viaSidecar = await unary(cl, { message: "after the edit" }, { deadlineMs: 2000 });
      assert.equal(viaSidecar.status.code, grpc.status.OK);
    });
  });
}

void describe("an xDS cluster whose first endpoint is down", { timeout: 60_000 }, () => {
  let cp: ControlPlane | undefined;
  let sc: Sidecar | undefined;
  let client: EchoClient | undefined;
  let backend: EchoServer | undefined;
  after(async () => {
    client?.close();
    await sc?.stop();
    await cp?.kill();
    await backend?.close();
  });

  void test("the sidecar takes its config from the next endpoint", async () => {
    backend = await startEchoServer({ name: "a" });
    const listenerPort = await freePort();
    cp = await startControlPlane(echoMeshYaml({ ports: [backend.port], listenerPort, listenerNodeCluster: "frontend" }));
    const dead = await closedPort();
    sc = await startSidecar(adsSidecarBootstrap([dead, cp.xdsPort]));
    const sidecar = sc;
    client = createEchoClient(listenerPort);
    const cl = client;
    await until("the listener from the second endpoint to serve", 15_000, async () => {
      const out = await unary(cl, { message: "hello" }, { deadlineMs: 1000 });
      return out.status.code === grpc.status.OK;
    });
    const cpRef = cp;
    assert.ok((await nodeOn(cpRef)) !== undefined, "the live endpoint lists the sidecar");
    const closed = sidecar.logs().find((l) => l.msg === "xDS stream closed; keeping the last good config");
    assert.ok(closed, sidecar.tail());
    assert.equal(closed.server, `127.0.0.1:${dead}`);
    assert.equal(closed.next_server, `127.0.0.1:${cp.xdsPort}`);
    // It never connected: the backoff's first step (250 to 500 ms), not an immediate retry.
    assert.ok(typeof closed.retry_in_ms === "number" && closed.retry_in_ms >= 250 && closed.retry_in_ms <= 500, String(closed.retry_in_ms));
    assert.equal((await stats(sidecar)).get("control_plane.connected_state"), 1);
  });
});
