/**
 * Initialisation over xDS, as Envoy's init manager: /ready stays 503 until the first clusters and
 * listeners (and their endpoints and routes) arrived, or until initial_fetch_timeout passed.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { adsSidecarBootstrap, startControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { createEchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort } from "../helpers/util.js";


async function readyStatus(sc: Sidecar): Promise<number> {
  return (await fetch(`http://127.0.0.1:${sc.adminPort}/ready`)).status;
}

async function pollReady(sc: Sidecar, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if ((await readyStatus(sc)) === 200) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not ready after ${ms} ms`);
}

void describe("xDS initialisation and /ready", { timeout: 60_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  void it("without a discovery server: 503 until initial_fetch_timeout, then 200", async () => {
    const sc = await startSidecar(adsSidecarBootstrap(await closedPort(), { nodeId: "init-1", initialFetchTimeout: "1s" }));
    cleanups.push(() => sc.stop());
    assert.equal(await readyStatus(sc), 503, "not ready before anything arrived");
    await pollReady(sc, 5000);
    assert.ok(
      sc.logs().some((l) => l.msg === "xDS initial fetch timed out; serving what has arrived"),
      "ready because initial_fetch_timeout passed (nothing else can make it ready with no server)",
    );
  });

  void it("with the discovery server: ready means the mesh listener already serves", async () => {
    const echo: EchoServer = await startEchoServer({ name: "a" });
    cleanups.push(() => echo.close());
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const cp: ControlPlane = await startControlPlane(`
upstreams:
  - name: echo
    protocol: grpc
    nodes: [ { address: 127.0.0.1:${echo.port} } ]
routes:
  - name: r
    hosts: ["*"]
    rules: [ { match: { prefix: / }, upstream: echo } ]
listeners:
  - name: l
    address: 127.0.0.1:${port}
    route: r
`);
    cleanups.push(() => cp.kill());
    const sc = await startSidecar(adsSidecarBootstrap(cp.xdsPort, { nodeId: "init-1", initialFetchTimeout: "30s" }));
    cleanups.push(() => sc.stop());
    await pollReady(sc, 10_000);
    const client = createEchoClient(port);
    try {
      const out = await unary(client, { message: "first" }, { deadlineMs: 2000 });
      assert.equal(out.status.code, grpc.status.OK, "the first call after /ready succeeds");
    } finally {
      client.close();
    }
  });
});
