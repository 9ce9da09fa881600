/**
 * mesh.yaml `mtls: {mode: strict}` over xDS to two real sidecars. Each "pod" mounts its own
 * certificate at the same relative path (`pod/tls.crt`, as a secret volume would be mounted at the
 * same path in every pod): the client-side sidecar's cluster to the server side (an upstream with
 * `identity`) presents `sa/a` and expects `sa/b`; the server side's `inbound` listener requires a
 * client certificate from the mesh CA. gRPC passes; a cleartext caller and a caller whose certificate
 * is from another CA are refused; an upstream expecting another identity fails with UNAVAILABLE.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseStats } from "../helpers/admin.js";
import { adsSidecarBootstrap, type ControlPlane, startControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, echoPackageDefinition, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { describeStatus, unary } from "../helpers/grpc-client.js";
import { makePki, SPIFFE_A, SPIFFE_B, type IssuedCert, type Pki } from "../helpers/pki.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { pollUntil } from "../helpers/util.js";

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A pod directory holding `pod/tls.crt`, `pod/tls.key`, `pod/ca.crt`. */
async function podDir(pki: Pki, name: string, cert: IssuedCert): Promise<string> {
  const dir = join(pki.dir, name);
  await mkdir(join(dir, "pod"), { recursive: true });
  await copyFile(cert.certPath, join(dir, "pod", "tls.crt"));
  await copyFile(cert.keyPath, join(dir, "pod", "tls.key"));
  await copyFile(pki.ca.certPath, join(dir, "pod", "ca.crt"));
  return dir;
}

type EchoCtor = new (target: string, creds: grpc.ChannelCredentials, opts: grpc.ChannelOptions) => EchoClient;
const Echo = (grpc.loadPackageDefinition(echoPackageDefinition) as unknown as { pilotfish: { test: { Echo: EchoCtor } } }).pilotfish.test.Echo;

void describe("mesh.yaml strict mTLS over xDS", { timeout: 120_000 }, () => {
  let pki: Pki;
  let echo: EchoServer;
  let cp: ControlPlane;
  let a: Sidecar;
  let b: Sidecar;
  let outPort: number;
  let wrongPort: number;
  let inPort: number;
  let certA: IssuedCert;
  let mesh: string;

  before(async () => {
    pki = await makePki();
    certA = await pki.ca.issue("a", [`URI:${SPIFFE_A}`]);
    const certB = await pki.ca.issue("b", [`URI:${SPIFFE_B}`]);
    echo = await startEchoServer({ name: "mesh-backend" });
    [outPort, wrongPort, inPort] = [await freePort(), await freePort(), await freePort()];
    mesh = `
mtls: { mode: strict, certFile: pod/tls.crt, keyFile: pod/tls.key, caFile: pod/ca.crt }
upstreams:
  - name: to-b
    protocol: grpc
    identity: ${SPIFFE_B}
    nodes: [ { address: 127.0.0.1:${inPort} } ]
  - name: to-b-wrong-identity
    protocol: grpc
    identity: spiffe://cluster.local/ns/default/sa/someone-else
    nodes: [ { address: 127.0.0.1:${inPort} } ]
    retries: 0
  - name: local-app
    protocol: grpc
    nodes: [ { address: 127.0.0.1:${echo.port} } ]
routes:
  - { name: out, rules: [ { upstream: to-b } ] }
  - { name: out-wrong, rules: [ { upstream: to-b-wrong-identity } ] }
  - { name: in, rules: [ { upstream: local-app } ] }
listeners:
  - { name: outbound, address: 127.0.0.1:${outPort}, route: out, nodes: { cluster: a } }
  - { name: outbound-wrong, address: 127.0.0.1:${wrongPort}, route: out-wrong, nodes: { cluster: a } }
  - { name: inbound, address: 127.0.0.1:${inPort}, route: in, inbound: true, nodes: { cluster: b } }
`;
    cp = await startControlPlane(mesh);
    b = await startSidecar(adsSidecarBootstrap(cp.xdsPort, { nodeId: "b-1", nodeCluster: "b" }), { cwd: await podDir(pki, "pod-b", certB) });
    a = await startSidecar(adsSidecarBootstrap(cp.xdsPort, { nodeId: "a-1", nodeCluster: "a" }), { cwd: await podDir(pki, "pod-a", certA) });
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await cp?.kill();
    await echo?.close();
    await pki?.cleanup();
  });

  void it("carries gRPC between the sidecars over mTLS and refuses callers outside the mesh", async () => {
    const client = createEchoClient(outPort);
    try {
      const out = await pollUntil(
        async () => {
          const r = await unary(client, { message: "meshed" }, { timeoutMs: 2000 });
          return r.status.code === grpc.status.OK ? r : undefined;
        },
        { timeoutMs: 20_000, label: "a call through both sidecars" },
      );
      assert.equal(out.headers?.get("x-echo-server")[0], "mesh-backend");
    } finally {
      client.close();
    }
    const sb = parseStats(await (await fetch(`http://127.0.0.1:${b.adminPort}/stats`)).text());
    assert.ok((sb.get("listener.inbound.ssl.handshake") ?? 0) >= 1, "the inbound listener terminated TLS");
    const sa = parseStats(await (await fetch(`http://127.0.0.1:${a.adminPort}/stats`)).text());
    assert.ok((sa.get("cluster.to-b.ssl.handshake") ?? 0) >= 1, "the outbound cluster originated TLS");

    const calls = echo.calls.length;
    // A cleartext caller straight to the inbound port.
    const plain = createEchoClient(inPort);
    try {
      const r = await unary(plain, { message: "plain" }, { timeoutMs: 3000 });
      assert.notEqual(r.status.code, grpc.status.OK, describeStatus(r.status));
    } finally {
      plain.close();
    }
    // A caller with a certificate from another CA.
    const foreign = await pki.otherCa.issue("foreign", [`URI:${SPIFFE_A}`]);
    const creds = grpc.credentials.createSsl(pki.ca.cert, foreign.key, foreign.cert, { checkServerIdentity: () => undefined });
    const f = new Echo(`127.0.0.1:${inPort}`, creds, {});
    try {
      const r = await unary(f, { message: "foreign" }, { timeoutMs: 3000 });
      assert.equal(r.status.code, grpc.status.UNAVAILABLE, describeStatus(r.status));
    } finally {
      f.close();
    }
    // The client side refuses a server that is not the identity the upstream names.
    const w = createEchoClient(wrongPort);
    try {
      const r = await pollUntil(
        async () => {
          const x = await unary(w, { message: "wrong" }, { timeoutMs: 2000 });
          return x.status.code === grpc.status.UNAVAILABLE && /TLS/.test(x.status.details) ? x : undefined;
        },
        { timeoutMs: 10_000, label: "UNAVAILABLE for the wrong identity" },
      );
      assert.match(r.status.details, /TLS error/);
    } finally {
      w.close();
    }
    assert.equal(echo.calls.length, calls, "no refused caller reached the app");
    const sa2 = parseStats(await (await fetch(`http://127.0.0.1:${a.adminPort}/stats`)).text());
    assert.ok((sa2.get("cluster.to-b-wrong-identity.ssl.fail_verify_san") ?? 0) >= 1);
  });

  void it("a changed trust domain applies to new connections of the inbound listener (LDS update in place)", async () => {
    const direct = async (cert: IssuedCert): Promise<grpc.status> => {
      const creds = grpc.credentials.createSsl(pki.ca.cert, cert.key, cert.cert, { checkServerIdentity: () => undefined });
      const c = new Echo(`127.0.0.1:${inPort}`, creds, {});
      try {
        return (await unary(c, { message: "direct" }, { timeoutMs: 3000 })).status.code;
      } finally {
        c.close();
      }
    };
    assert.equal(await direct(certA), grpc.status.OK, "sa/a is in the trust domain");
    const other = await pki.ca.issue("other-domain", ["URI:spiffe://other.example/ns/default/sa/a"]);
    assert.equal(await direct(other), grpc.status.UNAVAILABLE, "other.example is not");
    await cp.writeMesh(mesh.replace("caFile: pod/ca.crt }", "caFile: pod/ca.crt, trustDomain: other.example }"));
    await pollUntil(async () => (await direct(other)) === grpc.status.OK, { timeoutMs: 15_000, label: "the new trust domain admits other.example" });
    assert.equal(await direct(certA), grpc.status.UNAVAILABLE, "and no longer cluster.local");
  });
});
