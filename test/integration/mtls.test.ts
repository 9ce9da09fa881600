/**
 * mTLS between sidecars and upstream TLS origination, with certificates made by the openssl CLI:
 * a CA, workloads `sa/a` and `sa/b` (SPIFFE URI SANs), a wrong-CA certificate and a wrong-SAN one.
 * - origination: a grpc-js TLS server that requires client certs; a cluster with the right CA and
 *   SAN gets through, a wrong SAN or a wrong CA ends in UNAVAILABLE (UF) with `ssl.fail_verify_*`;
 * - two sidecars: the outbound one presents `sa/a`, the inbound one requires a certificate from the CA
 *   with a `spiffe://cluster.local/` URI SAN; gRPC passes end to end, the inbound access log and
 *   SERVER span carry the caller's SPIFFE ID; clients with no, a foreign or a wrong-SAN certificate
 *   are refused and counted.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { createEchoClient, echoPackageDefinition, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { describeStatus, unary } from "../helpers/grpc-client.js";
import { startOtlpReceiver, type OtlpReceiver } from "../helpers/otlp-receiver.js";
import { makePki, SPIFFE_A, SPIFFE_B, type IssuedCert, type Pki } from "../helpers/pki.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { downstreamTls, sanMatcher, setListenerTls, staticParts, upstreamTls } from "../helpers/tls-bootstrap.js";
import { http2Request, pollUntil } from "../helpers/util.js";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

const STDOUT_LOG = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
const ECHO_PREFIX = "/pilotfish.test.Echo/";

async function stats(sc: Sidecar): Promise<Map<string, number>> {
  return parseStats(await (await fetch(`http://127.0.0.1:${sc.adminPort}/stats`)).text());
}

type EchoCtor = new (target: string, creds: grpc.ChannelCredentials, opts: grpc.ChannelOptions) => EchoClient;
const Echo = (grpc.loadPackageDefinition(echoPackageDefinition) as unknown as { pilotfish: { test: { Echo: EchoCtor } } }).pilotfish.test.Echo;

/** A grpc-js client over TLS trusting `ca`, presenting `client` if given. */
function tlsClient(port: number, ca: Buffer, client?: IssuedCert): EchoClient {
  const creds = grpc.credentials.createSsl(ca, client?.key ?? null, client?.cert ?? null);
  return new Echo(`127.0.0.1:${port}`, creds, { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 500 });
}

void describe("mTLS and upstream TLS origination", { timeout: 120_000 }, () => {
  let pki: Pki;
  let a: IssuedCert;
  let b: IssuedCert;
  let evil: IssuedCert;
  let foreign: IssuedCert;
  before(async () => {
    pki = await makePki();
    a = await pki.ca.issue("a", [`URI:${SPIFFE_A}`]);
    b = await pki.ca.issue("b", [`URI:${SPIFFE_B}`, "DNS:localhost", "IP:127.0.0.1"]);
    evil = await pki.ca.issue("evil", ["URI:spiffe://evil.example/ns/default/sa/a"]);
    foreign = await pki.otherCa.issue("foreign", [`URI:${SPIFFE_A}`]);
  });
  after(async () => pki?.cleanup());

  void it("originates TLS to a grpc-js server: CA + SAN verified, wrong SAN or CA -> UNAVAILABLE and ssl stats", async (t) => {
    const backend = await startEchoServer({
      name: "tls-backend",
      credentials: grpc.ServerCredentials.createSsl(pki.ca.cert, [{ cert_chain: b.cert, private_key: b.key }], true),
    });
    t.after(() => backend.close());
    // An HTTPS/1.1 upstream requiring a client certificate: reports the caller's URI SAN.
    const healthChecks: string[] = [];
    const h1server = https.createServer({ cert: b.cert, key: b.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      if (req.url === "/healthz") healthChecks.push((req.socket as TLSSocket).getPeerCertificate().subjectaltname ?? "");
      const san = (req.socket as TLSSocket).getPeerCertificate().subjectaltname ?? "";
      res.writeHead(200, { "x-client-san": san, "x-alpn": String((req.socket as TLSSocket).alpnProtocol) });
      res.end("h1-ok");
    });
    await new Promise<void>((resolve) => h1server.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => h1server.close(() => resolve())));
    const h1 = { port: (h1server.address() as AddressInfo).port };
    const doc = bootstrapObject({
      listeners: [
        {
          name: "out",
          routes: [
            { prefix: "/good/", cluster: "good" },
            { prefix: "/badsan/", cluster: "badsan" },
            { prefix: "/badca/", cluster: "badca" },
            { prefix: "/h1/", cluster: "h1" },
          ],
        },
      ],
      clusters: [
        ...["good", "badsan", "badca"].map((name) => ({ name, endpoints: [backend.port] })),
        { name: "h1", endpoints: [h1.port], http2: false },
        { name: "hcgrpc", endpoints: [backend.port] },
      ],
    });
    // Route by a path prefix the Echo client cannot send: rewrite with a prefix_rewrite per route.
    const vh = (staticParts(doc).hcm(0).route_config as { virtual_hosts: Array<{ routes: Array<{ match: { prefix: string }; route: Record<string, unknown> }> }> })
      .virtual_hosts[0];
    for (const r of vh.routes) if (r.match.prefix !== "/h1/") r.route.prefix_rewrite = ECHO_PREFIX;
    const [good, badsan, badca, h1c] = staticParts(doc).clusters;
    h1c.transport_socket = upstreamTls({ caPath: pki.ca.certPath, client: a, sans: [sanMatcher("DNS", { exact: "localhost" })] });
    // Active health checks go over the cluster's TLS too (HTTP and gRPC).
    const hc = { timeout: "5s", interval: "0.2s", no_traffic_interval: "0.2s", unhealthy_threshold: 2, healthy_threshold: 1 };
    h1c.health_checks = [{ ...hc, http_health_check: { path: "/healthz" } }];
    const hcg = staticParts(doc).clusters[4];
    hcg.transport_socket = upstreamTls({ caPath: pki.ca.certPath, client: a, sans: [sanMatcher("URI", { exact: SPIFFE_B })] });
    hcg.health_checks = [{ ...hc, grpc_health_check: { service_name: "pilotfish.test.Echo" } }];
    good.transport_socket = upstreamTls({ caPath: pki.ca.certPath, client: a, sans: [sanMatcher("URI", { exact: SPIFFE_B })] });
    badsan.transport_socket = upstreamTls({ caPath: pki.ca.certPath, client: a, sans: [sanMatcher("URI", { exact: SPIFFE_A })] });
    badca.transport_socket = upstreamTls({ caPath: pki.otherCa.certPath, client: a });
    const sc = await startSidecar(stringify(doc));
    t.after(() => sc.stop());
    const port = sc.port("out");

    const call = async (prefix: string): Promise<grpc.StatusObject> => {
      const client = createEchoClient(port);
      try {
        const rpc = (client as unknown as { makeUnaryRequest: grpc.Client["makeUnaryRequest"] }).makeUnaryRequest.bind(client);
        return await new Promise<grpc.StatusObject>((resolve) => {
          const c = rpc(
            `/${prefix}/Unary`,
            (x: { message: string }) => Buffer.from([0x0a, x.message.length, ...Buffer.from(x.message)]),
            (buf: Buffer) => buf,
            { message: "hi" },
            new grpc.Metadata(),
            { deadline: Date.now() + 10_000 },
            () => undefined,
          );
          c.on("status", resolve);
        });
      } finally {
        client.close();
      }
    };
    const ok = await call("good");
    assert.equal(ok.code, grpc.status.OK, describeStatus(ok));
    assert.equal(backend.calls.length, 1);

    const san = await call("badsan");
    assert.equal(san.code, grpc.status.UNAVAILABLE, describeStatus(san));
    assert.match(san.details, /TLS error/);
    const ca = await call("badca");
    assert.equal(ca.code, grpc.status.UNAVAILABLE, describeStatus(ca));
    assert.equal(backend.calls.length, 1, "no call got through an unverified connection");

    // HTTP/1.1 over TLS (ALPN http/1.1), client certificate presented, keep-alive reuse.
    for (const i of [1, 2]) {
      const r = await http2Request({ port, path: `/h1/${i}` });
      assert.equal(r.headers[":status"], 200);
      assert.equal(r.body.toString(), "h1-ok");
      assert.equal(r.headers["x-client-san"], `URI:${SPIFFE_A}`);
      assert.equal(r.headers["x-alpn"], "http/1.1");
    }

    await pollUntil(async () => ((await stats(sc)).get("cluster.h1.health_check.success") ?? 0) >= 1, { timeoutMs: 15_000, label: "an HTTPS health check passed" });
    assert.equal(healthChecks[0], `URI:${SPIFFE_A}`, "the health check presented the client certificate");
    // The echo backend has no health service: an answer (UNIMPLEMENTED) is an active failure, proof the
    // TLS channel came up; a refused handshake would be a network failure.
    // (`failure` counts answered checks only; timeouts and refused connections are `network_failure`.)
    await pollUntil(async () => ((await stats(sc)).get("cluster.hcgrpc.health_check.failure") ?? 0) >= 1, {
      timeoutMs: 15_000,
      label: "a gRPC health check answered over TLS",
    });

    const s = await stats(sc);
    assert.ok((s.get("cluster.h1.ssl.handshake") ?? 0) >= 1);
    assert.ok((s.get("cluster.good.ssl.handshake") ?? 0) >= 1, "good handshake counted");
    assert.ok((s.get("cluster.badsan.ssl.fail_verify_san") ?? 0) >= 1, "SAN mismatch counted");
    assert.equal(s.get("cluster.badsan.ssl.handshake") ?? 0, 0);
    assert.ok((s.get("cluster.badca.ssl.fail_verify_error") ?? 0) >= 1, "untrusted chain counted");
    assert.ok((s.get("cluster.badsan.upstream_cx_connect_fail") ?? 0) >= 1);
    assert.ok((s.get("http.out.response_flag.UF") ?? 0) >= 2, "UF for both failures");
  });

  void describe("two sidecars", () => {
    let receiver: OtlpReceiver;
    let echo: EchoServer;
    let inbound: Sidecar;
    let outbound: Sidecar;
    before(async () => {
      receiver = await startOtlpReceiver();
      echo = await startEchoServer({ name: "behind-mtls" });
      const inDoc = bootstrapObject({ nodeId: "b", listeners: [{ name: "inbound" }], clusters: [{ name: "echo", endpoints: [echo.port] }] });
      const inParts = staticParts(inDoc);
      setListenerTls(
        inParts.listeners[0],
        downstreamTls(b, {
          caPath: pki.ca.certPath,
          requireClientCertificate: true,
          sans: [sanMatcher("URI", { prefix: "spiffe://cluster.local/" })],
        }),
      );
      inParts.hcm(0).access_log = [{ name: "envoy.access_loggers.stdout", typed_config: { "@type": STDOUT_LOG } }];
      inParts.hcm(0).tracing = { random_sampling: { value: 100 } };
      inbound = await startSidecar(stringify(inDoc), {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.httpPort}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          OTEL_SERVICE_NAME: "mtls-inbound",
          OTEL_BSP_SCHEDULE_DELAY: "50",
        },
      });
      const outDoc = bootstrapObject({
        nodeId: "a",
        listeners: [{ name: "outbound" }],
        clusters: [{ name: "echo", endpoints: [inbound.port("inbound")] }],
      });
      staticParts(outDoc).clusters[0].transport_socket = upstreamTls({
        caPath: pki.ca.certPath,
        client: a,
        sans: [sanMatcher("URI", { exact: SPIFFE_B })],
      });
      staticParts(outDoc).hcm(0).tracing = { random_sampling: { value: 100 }, spawn_upstream_span: true };
      outbound = await startSidecar(stringify(outDoc), {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.httpPort}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          OTEL_SERVICE_NAME: "mtls-outbound",
          OTEL_BSP_SCHEDULE_DELAY: "50",
        },
      });
    });
    after(async () => {
      await outbound?.stop();
      await inbound?.stop();
      await echo?.close();
      await receiver?.close();
    });

    void it("carries gRPC end to end; the inbound access log and span name the caller's SPIFFE ID", async () => {
      const client = createEchoClient(outbound.port("outbound"));
      try {
        const out = await unary(client, { message: "through-mtls" });
        assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
        assert.equal(out.messages[0]?.message, "through-mtls");
        assert.equal(out.headers?.get("x-echo-server")[0], "behind-mtls");
      } finally {
        client.close();
      }
      const line = await pollUntil(() => inbound.logs().find((l) => typeof l.path === "string" && l.path.endsWith("/Unary")), {
        timeoutMs: 5000,
        label: "inbound access log line",
      });
      assert.equal(line.downstream_peer_uri_san, SPIFFE_A);
      const spans = await receiver.waitForSpans(3);
      const server = spans.find((s) => s.resource["service.name"] === "mtls-inbound" && s.kind === "SPAN_KIND_SERVER");
      assert.ok(server, "inbound SERVER span");
      assert.equal(server.attributes["pilotfish.peer.principal"], SPIFFE_A);
      const clientSpan = spans.find((s) => s.resource["service.name"] === "mtls-outbound" && s.kind === "SPAN_KIND_CLIENT");
      assert.ok(clientSpan, "outbound CLIENT span");
      assert.equal(clientSpan.attributes["pilotfish.upstream.peer.principal"], SPIFFE_B, "the verified server's identity");
      const outServer = spans.find((s) => s.resource["service.name"] === "mtls-outbound" && s.kind === "SPAN_KIND_SERVER");
      assert.equal(outServer?.attributes["pilotfish.peer.principal"], undefined, "a cleartext caller has no principal");
      const so = await stats(outbound);
      assert.ok((so.get("cluster.echo.ssl.handshake") ?? 0) >= 1);
      const si = await stats(inbound);
      assert.ok((si.get("listener.inbound.ssl.handshake") ?? 0) >= 1);
    });

    void it("refuses a client with no certificate, a foreign CA's certificate or a SAN outside the trust domain", async () => {
      const port = inbound.port("inbound");
      const before = echo.calls.length;
      const cases: Array<[string, IssuedCert | undefined]> = [
        ["no certificate", undefined],
        ["foreign CA", foreign],
        ["wrong SAN", evil],
      ];
      for (const [what, cert] of cases) {
        const c = tlsClient(port, pki.ca.cert, cert);
        try {
          const out = await unary(c, { message: what }, { timeoutMs: 5000 });
          assert.equal(out.status.code, grpc.status.UNAVAILABLE, `${what}: ${describeStatus(out.status)}`);
        } finally {
          c.close();
        }
      }
      assert.equal(echo.calls.length, before, "no refused client reached the backend");
      // The accepted certificate still works directly.
      const ok = tlsClient(port, pki.ca.cert, a);
      try {
        const out = await unary(ok, { message: "direct" });
        assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
      } finally {
        ok.close();
      }
      const s = await stats(inbound);
      assert.ok((s.get("listener.inbound.ssl.fail_verify_san") ?? 0) >= 1, "wrong SAN counted");
      // TLS 1.3: the client finishes its handshake before the server has checked the client's
      // certificate; a client that hangs up at once leaves the server a reset, not a verify error.
      const refused = ["fail_verify_error", "fail_verify_no_cert", "connection_error"].map((k) => s.get(`listener.inbound.ssl.${k}`) ?? 0);
      assert.ok(
        refused.reduce((x, y) => x + y, 0) >= 2,
        `missing and foreign certificates counted: ${JSON.stringify([...s].filter(([k]) => k.includes("ssl")))}`,
      );
    });
  });
});
