/**
 * RBAC by workload identity: a TLS listener that requires client certificates (a CA and certificates
 * with SPIFFE URI SANs made by the openssl CLI), and an `authenticated.principal_name` policy. Real
 * grpc-js clients present different identities; only the allowed one reaches the upstream.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { stringify } from "yaml";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { ECHO_SERVICE, echoPackageDefinition, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { clientStream, describeStatus, unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";

const TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const FRONTEND = "spiffe://mesh.local/ns/default/sa/frontend";
const OTHER = "spiffe://mesh.local/ns/default/sa/other";

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("/usr/bin/openssl", args, { timeout: 20_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`openssl ${args[0]} failed: ${err.message}\n${stderr}`)) : resolve(),
    );
  });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA and a certificate signed by it for `name`, with the given subjectAltName. */
async function issue(dir: string, name: string, san: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `subjectAltName=${san}\n`);
  await openssl(["req", ...EC, "-keyout", key, "-out", csr, "-subj", `/CN=${name}`]);
  await openssl(["x509", "-req", "-in", csr, "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext]);
  return { cert, key };
}

void describe("RBAC by client certificate principal (mTLS listener)", { timeout: 90_000 }, () => {
  let dir: string;
  let echo: EchoServer;
  let sc: Sidecar;
  const clients: grpc.Client[] = [];

  async function clientAs(name: string): Promise<EchoClient> {
    const Ctor = grpc.loadPackageDefinition(echoPackageDefinition).pilotfish as unknown as { test: { Echo: typeof grpc.Client } };
    const creds = grpc.credentials.createSsl(
      await readFile(join(dir, "ca.pem")),
      await readFile(join(dir, `${name}.key`)),
      await readFile(join(dir, `${name}.pem`)),
    );
    const c = new Ctor.test.Echo(`127.0.0.1:${sc.port("inbound")}`, creds, { "grpc.ssl_target_name_override": "localhost" });
    clients.push(c);
    return c as unknown as EchoClient;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pilotfish-mtls-rbac-"));
    await openssl(["req", "-x509", ...EC, "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem"), "-days", "2", "-subj", "/CN=mesh-ca"]);
    const server = await issue(dir, "server", "DNS:localhost,IP:127.0.0.1");
    await issue(dir, "frontend", `URI:${FRONTEND}`);
    await issue(dir, "other", `URI:${OTHER},DNS:other.default.svc`);
    echo = await startEchoServer();
    const doc = bootstrapObject({ listeners: [{ name: "inbound" }], clusters: [{ name: "echo", endpoints: [echo.port] }] });
    const listener = (doc.static_resources as { listeners: { filter_chains: Record<string, unknown>[] }[] }).listeners[0];
    listener.filter_chains[0].transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": TLS_TYPE,
        require_client_certificate: true,
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: server.cert }, private_key: { filename: server.key } }],
          validation_context: { trusted_ca: { filename: join(dir, "ca.pem") } },
          alpn_protocols: ["h2"],
        },
      },
    };
    const hcm = (listener.filter_chains[0].filters as { typed_config: Record<string, unknown> }[])[0].typed_config;
    hcm.http_filters = [
      {
        name: "envoy.filters.http.rbac",
        typed_config: {
          "@type": RBAC,
          rules: {
            action: "ALLOW",
            policies: {
              "frontend-may-call-unary": {
                permissions: [{ url_path: { path: { exact: `/${ECHO_SERVICE}/Unary` } } }],
                principals: [{ authenticated: { principal_name: { exact: FRONTEND } } }],
              },
              // DNS SANs are matched too (after URI SANs), as Envoy does.
              "other-by-dns-may-stream": {
                permissions: [{ url_path: { path: { exact: `/${ECHO_SERVICE}/ClientStream` } } }],
                principals: [{ authenticated: { principal_name: { suffix: ".default.svc" } } }],
              },
            },
          },
        },
      },
      { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } },
    ];
    sc = await startSidecar(stringify(doc));
  });

  after(async () => {
    for (const c of clients) c.close();
    await sc?.stop();
    await echo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  void it("allows the named principal's method and denies other identities and methods", async () => {
    const frontend = await clientAs("frontend");
    const other = await clientAs("other");
    const ok = await unary(frontend, { message: "hi" });
    assert.equal(ok.status.code, grpc.status.OK, describeStatus(ok.status));
    const wrongPeer = await unary(other, { message: "hi" });
    assert.equal(wrongPeer.status.code, grpc.status.PERMISSION_DENIED, describeStatus(wrongPeer.status));
    const wrongMethod = await clientStream(frontend, [{ message: "x" }]);
    assert.equal(wrongMethod.status.code, grpc.status.PERMISSION_DENIED, describeStatus(wrongMethod.status));
    const byDns = await clientStream(other, [{ message: "x" }]);
    assert.equal(byDns.status.code, grpc.status.OK, describeStatus(byDns.status));
    assert.deepEqual(
      echo.calls.map((c) => c.method),
      ["Unary", "ClientStream"],
      "denied calls never reach the upstream",
    );
    const s = parseStats(await (await fetch(`http://127.0.0.1:${sc.adminPort}/stats`)).text());
    assert.equal(s.get("http.inbound.rbac.allowed"), 2);
    assert.equal(s.get("http.inbound.rbac.denied"), 2);
    assert.equal(s.get("http.inbound.response_flag.RBAC"), 2);
  });
});
