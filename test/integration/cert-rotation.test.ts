/**
 * Certificate rotation without dropping connections: the listener's certificate sits in a
 * Kubernetes-style secret volume (files are symlinks through `..data`, swapped atomically) and the
 * cluster's client certificate in plain files replaced by rename. After the swap, new downstream
 * connections get the new server certificate and new upstream connections present the new client
 * certificate (both checked by serial), while a gRPC bidi stream opened before keeps working.
 * Unparseable new files keep the old material and log an error naming the file.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { mkdir, rename, symlink, writeFile, copyFile } from "node:fs/promises";
import * as http2 from "node:http2";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { ECHO_PATH_PREFIX, echoPackageDefinition, type EchoClient, type EchoResponse } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { bidi, describeStatus } from "../helpers/grpc-client.js";
import { makePki, SPIFFE_A, SPIFFE_B, type IssuedCert, type Pki } from "../helpers/pki.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { downstreamTls, sanMatcher, setListenerTls, staticParts, upstreamTls } from "../helpers/tls-bootstrap.js";
import { pollUntil, withTimeout } from "../helpers/util.js";

type EchoCtor = new (target: string, creds: grpc.ChannelCredentials, opts: grpc.ChannelOptions) => EchoClient;
const Echo = (grpc.loadPackageDefinition(echoPackageDefinition) as unknown as { pilotfish: { test: { Echo: EchoCtor } } }).pilotfish.test.Echo;

/** Swaps a secret volume's `..data` link to a new directory holding `files`, as the kubelet does. */
async function swapSecret(volume: string, version: string, files: Record<string, Buffer | string>): Promise<void> {
  const dir = join(volume, `..${version}`);
  await mkdir(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await symlink(`..${version}`, join(volume, "..data_tmp"));
  await rename(join(volume, "..data_tmp"), join(volume, "..data"));
}

/** Replaces a file atomically (write beside, rename over). */
async function replaceFile(path: string, from: string): Promise<void> {
  await copyFile(from, `${path}.tmp`);
  await rename(`${path}.tmp`, path);
}

/** A new TLS connection to the listener: the server certificate's serial and the response's x-client-serial. */
async function probe(port: number, ca: Buffer, client: IssuedCert): Promise<{ serverSerial: string; status: number; clientSerial: string }> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca, cert: client.cert, key: client.key, checkServerIdentity: () => undefined });
  try {
    return await withTimeout(
      new Promise((resolve, reject) => {
        session.once("error", reject);
        session.once("connect", () => {
          const serverSerial = (session.socket as TLSSocket).getPeerCertificate().serialNumber;
          const req = session.request({ ":path": "/serial", ":method": "GET" });
          req.on("response", (h) => {
            req.resume();
            req.on("end", () => resolve({ serverSerial, status: Number(h[":status"]), clientSerial: String(h["x-client-serial"] ?? "") }));
          });
          req.on("error", reject);
          req.end();
        });
      }),
      5000,
      "probe",
    );
  } finally {
    session.destroy();
  }
}

void describe("certificate rotation", { timeout: 120_000 }, () => {
  let pki: Pki;
  let echo: EchoServer;
  let backend: http2.Http2SecureServer;
  let backendPort: number;
  const backendSessions = new Set<http2.ServerHttp2Session>();
  let sc: Sidecar;
  let s1: IssuedCert, s2: IssuedCert, c1: IssuedCert, c2: IssuedCert, caller: IssuedCert, backendCert: IssuedCert;
  let volume: string;
  let clientDir: string;

  before(async () => {
    pki = await makePki();
    const serverSans = [`URI:${SPIFFE_B}`, "IP:127.0.0.1"];
    [s1, s2] = [await pki.ca.issue("s1", serverSans), await pki.ca.issue("s2", serverSans)];
    [c1, c2] = [await pki.ca.issue("c1", [`URI:${SPIFFE_A}`]), await pki.ca.issue("c2", [`URI:${SPIFFE_A}`])];
    caller = await pki.ca.issue("caller", [`URI:${SPIFFE_A}`]);
    backendCert = await pki.ca.issue("backend", ["URI:spiffe://cluster.local/ns/default/sa/backend"]);

    volume = join(pki.dir, "secret");
    await mkdir(volume);
    await swapSecret(volume, "v1", { "tls.crt": s1.cert, "tls.key": s1.key });
    await symlink("..data/tls.crt", join(volume, "tls.crt"));
    await symlink("..data/tls.key", join(volume, "tls.key"));
    clientDir = join(pki.dir, "client");
    await mkdir(clientDir);
    await copyFile(c1.certPath, join(clientDir, "cert.pem"));
    await copyFile(c1.keyPath, join(clientDir, "key.pem"));

    echo = await startEchoServer({ name: "rotation-echo" });
    backend = http2.createSecureServer({ cert: backendCert.cert, key: backendCert.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true });
    backend.on("session", (s) => {
      backendSessions.add(s);
      s.once("close", () => backendSessions.delete(s));
    });
    backend.on("stream", (stream) => {
      const serial = (stream.session?.socket as TLSSocket | undefined)?.getPeerCertificate().serialNumber ?? "";
      stream.respond({ ":status": 200, "x-client-serial": serial });
      stream.end();
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    backendPort = (backend.address() as { port: number }).port;

    const doc = bootstrapObject({
      listeners: [{ name: "in", routes: [{ prefix: ECHO_PATH_PREFIX, cluster: "echo" }, { prefix: "/", cluster: "backend" }] }],
      clusters: [
        { name: "echo", endpoints: [echo.port] },
        { name: "backend", endpoints: [backendPort] },
      ],
    });
    const parts = staticParts(doc);
    setListenerTls(
      parts.listeners[0],
      downstreamTls({ certPath: join(volume, "tls.crt"), keyPath: join(volume, "tls.key") }, { caPath: pki.ca.certPath, requireClientCertificate: true }),
    );
    parts.clusters[1].transport_socket = upstreamTls({
      caPath: pki.ca.certPath,
      client: { certPath: join(clientDir, "cert.pem"), keyPath: join(clientDir, "key.pem") },
      sans: [sanMatcher("URI", { exact: "spiffe://cluster.local/ns/default/sa/backend" })],
    });
    sc = await startSidecar(stringify(doc), { env: { PILOTFISH_CERT_POLL_MS: "100" } });
  });

  after(async () => {
    await sc?.stop();
    await echo?.close();
    for (const s of backendSessions) s.destroy();
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
    await pki?.cleanup();
  });

  void it("new connections get the new certificates, an open stream keeps working, bad files are refused", async () => {
    const port = sc.port("in");
    const first = await probe(port, pki.ca.cert, caller);
    assert.deepEqual(first, { serverSerial: s1.serial, status: 200, clientSerial: c1.serial });

    // A bidi stream on a connection made with the old certificate.
    const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createSsl(pki.ca.cert, caller.key, caller.cert), {});
    const messages: EchoResponse[] = [];
    const { call, done } = bidi(client, { onMessage: (m) => messages.push(m), timeoutMs: 60_000 });
    call.write({ message: "before" });
    await pollUntil(() => messages.length === 1, { timeoutMs: 5000, label: "first bidi reply" });

    await swapSecret(volume, "v2", { "tls.crt": s2.cert, "tls.key": s2.key });
    await replaceFile(join(clientDir, "cert.pem"), c2.certPath);
    await replaceFile(join(clientDir, "key.pem"), c2.keyPath);

    await pollUntil(async () => (await probe(port, pki.ca.cert, caller)).serverSerial === s2.serial, {
      timeoutMs: 10_000,
      label: "a new connection gets the new server certificate",
    });
    // An upstream session keeps the certificate it was made with: drop the backend's sessions until a
    // new one (made after the client files were reloaded) presents the new certificate.
    await pollUntil(
      async () => {
        const p = await probe(port, pki.ca.cert, caller);
        if (p.clientSerial === c2.serial) return true;
        assert.ok(p.clientSerial === c1.serial || p.status !== 200, `unexpected client serial ${p.clientSerial}`);
        for (const s of backendSessions) s.destroy();
        return false;
      },
      { timeoutMs: 10_000, label: "a new upstream connection presents the new client certificate" },
    );

    call.write({ message: "after" });
    await pollUntil(() => messages.length === 2, { timeoutMs: 5000, label: "bidi reply after rotation" });
    assert.equal(messages[1].message, "after");
    call.end();
    const out = await done;
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    client.close();

    // Garbage in place of the certificate: logged with the file name, the old material stays.
    await swapSecret(volume, "v3", { "tls.crt": "not a certificate\n", "tls.key": s2.key });
    const err = await pollUntil(() => sc.logs().find((l) => typeof l.err === "string" && l.err.includes("tls.crt")), {
      timeoutMs: 10_000,
      label: "an error log naming the bad file",
    });
    assert.match(String(err.err), /not a PEM certificate/);
    const still = await probe(port, pki.ca.cert, caller);
    assert.equal(still.serverSerial, s2.serial);
    assert.equal(still.status, 200);
  });
});
