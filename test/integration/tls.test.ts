/**
 * TLS downstream: a listener with an Envoy DownstreamTlsContext (certificate and key files made by the
 * openssl CLI at test time, ALPN h2 + http/1.1). An h2-over-TLS client, an HTTPS/1.1 client and a grpc-js
 * client with SSL credentials all get proxied responses; a cleartext client is not served.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import * as https from "node:https";
import type { TLSSocket } from "node:tls";
import { describe, it } from "node:test";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { ECHO_PATH_PREFIX, echoPackageDefinition, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer } from "../helpers/echo-server.js";
import { describeStatus, unary } from "../helpers/grpc-client.js";
import { h2UpstreamBody, startH2Upstream } from "../helpers/h2-upstream.js";
import { connectH2, makeSelfSignedCert } from "../helpers/programmable-upstreams.js";
import { startSidecar } from "../helpers/sidecar.js";
import { http2Request, withTimeout } from "../helpers/util.js";
import { stringify } from "yaml";

const TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";

function httpsGet(port: number, path: string, ca: Buffer): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: "127.0.0.1", port, path, method: "GET", ca, agent: false, ALPNProtocols: ["http/1.1"] } as https.RequestOptions,
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), alpn: (res.socket as TLSSocket).alpnProtocol }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end();
    }),
    5000,
    `HTTPS/1.1 GET ${path}`,
  );
}

void describe("TLS downstream (DownstreamTlsContext)", { timeout: 90_000 }, () => {
  void it("serves h2 over TLS, HTTPS/1.1 and grpc-js with SSL credentials", { timeout: 60_000 }, async (t) => {
    const cert = await makeSelfSignedCert();
    t.after(() => cert.cleanup());
    const echo = await startEchoServer({ name: "tls-echo" });
    t.after(() => echo.close());
    const web = await startH2Upstream();
    t.after(() => web.close());

    const doc = bootstrapObject({
      listeners: [
        {
          name: "secure",
          routes: [
            { prefix: ECHO_PATH_PREFIX, cluster: "echo" },
            { prefix: "/", cluster: "web" },
          ],
        },
      ],
      clusters: [
        { name: "echo", endpoints: [echo.port] },
        { name: "web", endpoints: [web.port] },
      ],
    });
    const listener = (doc.static_resources as { listeners: Array<{ filter_chains: Array<Record<string, unknown>> }> }).listeners[0];
    listener.filter_chains[0].transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": TLS_TYPE,
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: cert.certPath }, private_key: { filename: cert.keyPath } }],
          alpn_protocols: ["h2", "http/1.1"],
        },
      },
    };
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const port = sidecar.port("secure");

    // h2 over TLS (ALPN h2).
    const h2 = await connectH2(`https://127.0.0.1:${port}`, { ca: cert.cert });
    t.after(() => h2.close());
    assert.equal(h2.session.alpnProtocol, "h2");
    const r1 = await h2.request({ path: "/tls/h2", method: "POST", body: "over-h2", headers: { "content-type": "text/plain" } });
    assert.equal(r1.status, 200);
    assert.equal(r1.body.toString(), h2UpstreamBody("POST", "/tls/h2", "over-h2"));
    assert.equal(r1.headers["x-upstream-proto"], "h2");

    // HTTPS/1.1 (ALPN http/1.1).
    const r2 = await httpsGet(port, "/tls/h1", cert.cert);
    assert.equal(r2.alpn, "http/1.1");
    assert.equal(r2.status, 200);
    assert.equal(r2.body, h2UpstreamBody("GET", "/tls/h1", ""));

    // grpc-js with SSL credentials.
    const pkg = grpc.loadPackageDefinition(echoPackageDefinition) as unknown as {
      pilotfish: { test: { Echo: new (target: string, creds: grpc.ChannelCredentials, opts: grpc.ChannelOptions) => EchoClient } };
    };
    const Ctor = pkg.pilotfish.test.Echo;
    const secure = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createSsl(cert.cert), {});
    t.after(() => secure.close());
    const out = await unary(secure, { message: "tls-grpc" });
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages[0]?.message, "tls-grpc");
    assert.equal(out.headers?.get("x-echo-server")[0], "tls-echo");

    assert.equal(web.requests.length, 2, "both plain requests reached the upstream");
    assert.equal(echo.calls.length, 1);

    // A cleartext h2c client is not served by the TLS listener.
    await assert.rejects(http2Request({ port, path: "/tls/plain", timeoutMs: 3000 }));
    assert.equal(web.requests.length, 2, "the cleartext request must not reach the upstream");
  });
});
