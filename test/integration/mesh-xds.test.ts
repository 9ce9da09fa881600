/**
 * The discovery server and the sidecar together, as real processes: mesh.yaml edits move traffic,
 * bad edits and a killed server lose no call, and a resource the sidecar cannot accept is NACKed and
 * never re-sent. Runs over state-of-the-world and delta xDS.
 */
import { until } from "../helpers/util.js";
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { adsSidecarBootstrap, type ControlPlane, echoMeshYaml, startControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}




/** Unary calls in a loop on `lanes` lanes until stopped; counts outcomes. */
/** The mesh of these tests: backends, and an optional extra rule (lines indented six spaces). */
function meshYaml(backends: readonly EchoServer[], listenerPort: number, extraRule?: string): string {
  return echoMeshYaml({
    ports: backends.map((b) => b.port),
    listenerPort,
    upstream: ["    balance: least_request", "    connectTimeout: 1s", "    retries: 1"],
    rules: extraRule === undefined ? [] : [extraRule],
    listenerNodeCluster: "frontend",
  });
}

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

async function sidecarJson(sc: Sidecar, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${sc.adminPort}${path}`);
  return res.json();
}

for (const delta of [false, true]) {
  void describe(`discovery server + sidecar over ${delta ? "delta" : "state-of-the-world"} xDS`, { timeout: 120_000 }, () => {
    const backends: EchoServer[] = [];
    let cp: ControlPlane | undefined;
    let sc: Sidecar | undefined;
    let client: EchoClient | undefined;
    after(async () => {
      client?.close();
      await sc?.stop();
      await cp?.kill();
      await Promise.all(backends.map((b) => b.close()));
    });

    void test("traffic flows; an edit moves it within a second; bad edits and a dead server lose no call", async () => {
      for (const name of ["a", "b", "c"]) backends.push(await startEchoServer({ name }));
      const [a, b, c] = backends as [EchoServer, EchoServer, EchoServer];
      const listenerPort = await freePort();
      cp = await startControlPlane(meshYaml([a, b], listenerPort));
      sc = await startSidecar(adsSidecarBootstrap(cp.xdsPort, { delta }));
      client = createEchoClient(listenerPort);
      const cl = client;
      await until("the listener from mesh.yaml to serve", 10_000, async () => {
        const out = await unary(cl, { message: "hello" }, { deadlineMs: 1000 });
        return out.status.code === grpc.status.OK;
      });
      assert.ok(a.calls.length + b.calls.length > 0, "a or b served the first calls");

      const traffic = steadyTraffic(cl);
      // Add c, remove a.
      const editAt = Date.now();
      await cp.writeMesh(meshYaml([b, c], listenerPort));
      await c.waitForCall(0, 5000);
      const movedIn = Date.now() - editAt;
      assert.ok(movedIn < 1000, `the new endpoint took traffic ${movedIn} ms after the edit (want < 1000)`);
      const aCallsAfterMove = a.calls.length;

      // A bad edit: traffic keeps flowing, the error is on the admin port.
      await cp.writeMesh("upstreams:\n  - name: echo\n    nodes: [ { address: nowhere } ]\n");
      const cpRef = cp;
      await until("the mesh error on the admin port", 5000, async () => JSON.stringify(await cpRef.getJson("/config")).includes("nodes"));

      // The discovery server dies and comes back on the same port: no call fails meanwhile.
      const xdsPort = cp.xdsPort;
      await cp.kill();
      const servedWhileDown = c.calls.length;
      await until("calls to keep flowing while the server is down", 5000, () => c.calls.length > servedWhileDown + 5);
      cp = await startControlPlane(meshYaml([b, c], listenerPort), { xdsPort });
      const cp2 = cp;
      // The ADS client's jittered backoff (0.5 s doubling to 30 s, as Envoy's) may be several attempts
      // deep by the time the server is back on a loaded machine: allow the 30 s cap plus slack.
      await until("the sidecar to reconnect and ACK every type", 40_000, async () => {
        const nodes = JSON.stringify(await cp2.getJson("/nodes"));
        return nodes.includes("frontend-1") && !nodes.includes('"version_acked":""') && !nodes.includes('"version_acked":null');
      });

      const { ok, failed } = await traffic.stop();
      assert.deepEqual(failed, [], `no call may fail (ok ${ok})`);
      assert.ok(ok > 50, `steady traffic ran (${ok} calls)`);
      assert.ok(a.calls.length - aCallsAfterMove <= 2, "the removed endpoint gets no new traffic after the move");
    });

    void test("a route the sidecar cannot accept is NACKed, shown in /nodes, never re-sent; the old routes keep serving", async () => {
      assert.ok(cp && sc && client, "the first test set the mesh up");
      const [, b, c] = backends as [EchoServer, EchoServer, EchoServer];
      const listenerPort = Number(/127\.0\.0\.1:(\d+)\n\s+route:/.exec(await import("node:fs/promises").then((f) => f.readFile(cp!.meshFile, "utf8")))?.[1]);
      // JavaScript accepts lookbehind, so the discovery server passes it on; RE2 (and so the sidecar) does not.
      const bad = "      - match: { regex: \"/(?<=x)y\" }\n        upstream: echo";
      await cp.writeMesh(meshYaml([b, c], listenerPort, bad));
      const cpRef = cp;
      let rds: { version_sent: string; version_acked: string; last_nack: { error: string; version: string } | null } | undefined;
      await until("the NACK to show in /nodes", 10_000, async () => {
        const nodes = (await cpRef.getJson("/nodes")) as { nodes: { id: string; types: Record<string, typeof rds> }[] };
        rds = nodes.nodes.find((n) => n.id === "frontend-1")?.types.rds;
        return rds?.last_nack != null;
      });
      assert.match(rds!.last_nack!.error, /regex|lookaround|look/i, "the NACK names the problem");
      assert.match(rds!.last_nack!.error, /echo-route/, "the NACK names the resource");
      assert.notEqual(rds!.version_acked, rds!.last_nack!.version, "the NACKed version is not ACKed");
      // The old routes keep serving, and the rejected version is not pushed again (no NACK loop).
      const sidecar = sc;
      const rejected = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/stats?filter=xds.rds.update_rejected`)).text();
        return Number(/: (\d+)/.exec(text)?.[1] ?? "0");
      };
      assert.equal(await rejected(), 1);
      for (let i = 0; i < 20; i++) {
        const out = await unary(client, { message: "still" }, { deadlineMs: 2000 });
        assert.equal(out.status.code, grpc.status.OK, "old routes still serve");
      }
      assert.equal(await rejected(), 1, "the NACKed version was not re-sent");
      const dump = JSON.stringify(await sidecarJson(sidecar, "/config_dump"));
      assert.match(dump, /last_rejection/, "config_dump shows the rejection");
    });
  });
}
