/**
 * An Envoy user's bootstrap runs unchanged: test/fixtures/bootstrap/envoy-realistic.yaml is parsed, only
 * its listener/admin ports (→ 0) and endpoint addresses (→ the test upstreams) are replaced, and each
 * route kind it defines is exercised: the gRPC route (by :authority and `grpc: {}`), the canary route
 * (header match, weighted clusters, prefix_rewrite), the regex route (host_rewrite_literal), the
 * direct_response route and the catch-all GET route (auto_host_rewrite), with the route-config and
 * virtual-host header mutations.
 *
 * Then route features on a bootstrap of our own: direct_response 418, request/response header add and
 * remove at route, virtual host and route-config level, prefix_rewrite and host_rewrite_literal.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { startH2Upstream } from "../helpers/h2-upstream.js";
import { connectH2, startHttp1Upstream } from "../helpers/programmable-upstreams.js";
import { startSidecar } from "../helpers/sidecar.js";
import { REPO_ROOT, withTimeout } from "../helpers/util.js";

/* ---------- a helloworld.Greeter gRPC upstream with raw (identity) serialization ---------- */

const identity = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const GREETER: grpc.ServiceDefinition = {
  SayHello: { path: "/helloworld.Greeter/SayHello", requestStream: false, responseStream: false, ...identity },
};

interface Greeter {
  port: number;
  calls: Array<{ body: string; metadata: grpc.Metadata }>;
  close(): Promise<void>;
}

async function startGreeter(name: string): Promise<Greeter> {
  const server = new grpc.Server();
  const calls: Greeter["calls"] = [];
  server.addService(GREETER, {
    SayHello: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      calls.push({ body: call.request.toString(), metadata: call.metadata });
      cb(null, Buffer.from(`hello ${call.request.toString()} from ${name}`));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, calls, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

function sayHello(port: number, authority: string, body: string): Promise<{ status: grpc.StatusObject; reply?: string }> {
  const Ctor = grpc.makeGenericClientConstructor(GREETER, "Greeter");
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc.default_authority": authority }) as unknown as {
    SayHello(req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Buffer>): grpc.ClientUnaryCall;
  } & grpc.Client;
  return withTimeout(
    new Promise<{ status: grpc.StatusObject; reply?: string }>((resolve) => {
      let reply: string | undefined;
      const call = client.SayHello(Buffer.from(body), new grpc.Metadata(), { deadline: Date.now() + 8000 }, (_err, res) => {
        reply = res?.toString();
      });
      call.on("status", (status: grpc.StatusObject) => setImmediate(() => resolve({ status, reply })));
    }),
    10_000,
    "SayHello",
  ).finally(() => client.close());
}

/* ---------- fixture editing: ports and endpoint addresses only ---------- */

interface SocketAddress {
  address: string;
  port_value: number;
}
type Doc = {
  admin: { address: { socket_address: SocketAddress } };
  static_resources: {
    listeners: Array<{ address: { socket_address: SocketAddress } }>;
    clusters: Array<{
      name: string;
      load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: SocketAddress } } }> }> };
    }>;
  };
};

function substitutePorts(doc: Doc, upstreams: Record<string, number[]>): void {
  doc.admin.address.socket_address.port_value = 0;
  for (const l of doc.static_resources.listeners) l.address.socket_address.port_value = 0;
  for (const c of doc.static_resources.clusters) {
    const ports = upstreams[c.name];
    assert.ok(ports, `no test upstream for cluster ${c.name}`);
    const eps = c.load_assignment.endpoints.flatMap((e) => e.lb_endpoints);
    assert.equal(eps.length, ports.length, `cluster ${c.name}: endpoint count`);
    eps.forEach((ep, i) => {
      ep.endpoint.address.socket_address.address = "127.0.0.1";
      ep.endpoint.address.socket_address.port_value = ports[i];
    });
  }
}

void describe("Envoy-style bootstrap fixture runs unchanged", { timeout: 90_000 }, () => {
  void it("envoy-realistic.yaml with only ports/endpoints substituted serves each route kind", { timeout: 60_000 }, async (t) => {
    const greeterA = await startGreeter("greeter-a");
    t.after(() => greeterA.close());
    const greeterB = await startGreeter("greeter-b");
    t.after(() => greeterB.close());
    const webV1 = await startHttp1Upstream((req, res, body) => {
      res.writeHead(200, { "content-type": "text/plain", server: "web-v1-server", "x-upstream": "web_v1" });
      res.end(`v1 ${req.method} ${req.url} host=${req.headers.host} body=${body.toString()}`);
    });
    t.after(() => webV1.close());
    const webV2 = await startHttp1Upstream((req, res) => {
      res.writeHead(200, { "content-type": "text/plain", server: "web-v2-server", "x-upstream": "web_v2" });
      res.end(`v2 ${req.method} ${req.url}`);
    });
    t.after(() => webV2.close());

    const fixture = await readFile(`${REPO_ROOT}test/fixtures/bootstrap/envoy-realistic.yaml`, "utf8");
    const doc = parse(fixture) as Doc;
    substitutePorts(doc, { greeter: [greeterA.port, greeterB.port], web_v1: [webV1.port], web_v2: [webV2.port] });
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const port = sidecar.port("listener_0");
    assert.ok(sidecar.adminPort && sidecar.adminPort !== 9901, "admin listens on an OS-chosen port");

    // gRPC route: virtual host grpc.example.com, prefix /helloworld.Greeter/ with grpc: {}.
    for (let i = 0; i < 4; i++) {
      const out = await sayHello(port, "grpc.example.com", `n${i}`);
      assert.equal(out.status.code, grpc.status.OK, `${out.status.code} ${out.status.details}`);
      assert.match(out.reply ?? "", new RegExp(`^hello n${i} from greeter-[ab]$`));
    }
    const greeterCalls = [...greeterA.calls, ...greeterB.calls];
    assert.equal(greeterCalls.length, 4);
    // Route-config request_headers_to_add applies to the gRPC route too.
    for (const c of greeterCalls) assert.deepEqual(c.metadata.get("x-mesh"), ["pilotfish"]);
    assert.equal(webV1.requests.length + webV2.requests.length, 0, "gRPC calls must not reach the web clusters");

    const h2 = await connectH2(`http://127.0.0.1:${port}`);
    t.after(() => h2.close());

    // Catch-all GET route (web vhost, no x-debug) → web_v1, auto_host_rewrite to the endpoint.
    const plain = await h2.request({ path: "/index.html", headers: { ":authority": "shop.example.com", "x-mesh": "client-value" } });
    assert.equal(plain.status, 200, plain.body.toString());
    assert.match(plain.body.toString(), new RegExp(`^v1 GET /index.html host=127\\.0\\.0\\.1:${webV1.port} body=$`));
    assert.equal(plain.headers.server, undefined, "response_headers_to_remove: server");
    const seen = webV1.requests.at(-1)!;
    assert.equal(seen.headers["x-mesh"], "pilotfish", "OVERWRITE_IF_EXISTS_OR_ADD replaces the client's value");
    assert.equal(seen.headers["x-forwarded-service"], "web", "virtual host request_headers_to_add");

    // x-debug present → the catch-all route (invert_match) does not match: no route → 404.
    const noRoute = await h2.request({ path: "/index.html", headers: { ":authority": "shop.example.com", "x-debug": "1" } });
    assert.equal(noRoute.status, 404);

    // Regex route → web_v1 with host_rewrite_literal.
    const stat = await h2.request({ path: "/static/app_1.css", headers: { ":authority": "shop.example.com" } });
    assert.equal(stat.status, 200);
    assert.equal(stat.body.toString(), "v1 GET /static/app_1.css host=static.internal body=");

    // Canary route: x-canary: true, weighted web_v1/web_v2, prefix_rewrite /api/ → /, x-route response header.
    const hits = { v1: 0, v2: 0 };
    for (let i = 0; i < 20; i++) {
      const r = await h2.request({ path: `/api/users/${i}`, method: "POST", body: "c", headers: { ":authority": "shop.example.com", "x-canary": "true" } });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers["x-route"], "canary");
      const m = /^(v1|v2) POST (\S+)/.exec(r.body.toString());
      assert.ok(m, r.body.toString());
      assert.equal(m[2], `/users/${i}`, "prefix_rewrite");
      hits[m[1] as "v1" | "v2"]++;
    }
    assert.equal(hits.v1 + hits.v2, 20);
    assert.ok(hits.v1 > 0, `weighted 90/10: web_v1 got ${hits.v1}/20`);

    // direct_response route.
    const health = await h2.request({ path: "/healthz", headers: { ":authority": "shop.example.com" } });
    assert.equal(health.status, 200);
    assert.equal(health.body.toString(), "ok");
  });
});

/* ---------- route features on our own bootstrap ---------- */

void describe("direct_response, header mutation and rewrites", { timeout: 60_000 }, () => {
  void it("direct_response 418, header add/remove at each level, prefix_rewrite, host_rewrite_literal", { timeout: 30_000 }, async (t) => {
    const up = await startH2Upstream();
    t.after(() => up.close());
    const doc = bootstrapObject({ listeners: [{ name: "outbound", routes: [] }], clusters: [{ name: "web", endpoints: [up.port] }] });
    const hcm = (doc.static_resources as { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Record<string, unknown> }> }> }> })
      .listeners[0].filter_chains[0].filters[0].typed_config;
    const hdr = (key: string, value: string, append_action = "OVERWRITE_IF_EXISTS_OR_ADD"): Record<string, unknown> => ({ header: { key, value }, append_action });
    hcm.route_config = {
      name: "features",
      request_headers_to_add: [hdr("x-rc-req", "rc")],
      response_headers_to_add: [hdr("x-rc-resp", "rc")],
      virtual_hosts: [
        {
          name: "all",
          domains: ["*"],
          request_headers_to_add: [hdr("x-vh-req", "vh")],
          request_headers_to_remove: ["x-drop-vh"],
          routes: [
            { match: { path: "/teapot" }, direct_response: { status: 418, body: { inline_string: "teapot" } } },
            {
              match: { prefix: "/old/" },
              route: { cluster: "web", prefix_rewrite: "/new/", host_rewrite_literal: "backend.internal" },
              request_headers_to_add: [hdr("x-added", "yes"), hdr("x-multi", "route", "APPEND_IF_EXISTS_OR_ADD")],
              request_headers_to_remove: ["x-secret"],
              response_headers_to_add: [hdr("x-resp-added", "r1")],
              response_headers_to_remove: ["x-upstream-proto"],
            },
            { match: { prefix: "/" }, route: { cluster: "web" } },
          ],
        },
      ],
    };
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const h2 = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => h2.close());

    const tea = await h2.request({ path: "/teapot" });
    assert.equal(tea.status, 418);
    assert.equal(tea.body.toString(), "teapot");
    assert.equal(up.requests.length, 0, "a direct response never reaches the upstream");

    const r = await h2.request({
      path: "/old/thing?q=1",
      headers: { ":authority": "client.example", "x-secret": "s3cr3t", "x-drop-vh": "1", "x-multi": "client", "x-keep": "k" },
    });
    assert.equal(r.status, 200);
    const seen = await up.waitForRequest(0);
    assert.equal(seen.headers[":path"], "/new/thing?q=1", "prefix_rewrite");
    assert.equal(seen.headers[":authority"], "backend.internal", "host_rewrite_literal");
    assert.equal(seen.headers["x-added"], "yes");
    assert.equal(seen.headers["x-vh-req"], "vh");
    assert.equal(seen.headers["x-rc-req"], "rc");
    assert.equal(seen.headers["x-secret"], undefined, "route request_headers_to_remove");
    assert.equal(seen.headers["x-drop-vh"], undefined, "virtual host request_headers_to_remove");
    assert.equal(seen.headers["x-keep"], "k");
    const multi = seen.headers["x-multi"];
    assert.deepEqual(Array.isArray(multi) ? multi : String(multi).split(/,\s*/), ["client", "route"], "APPEND_IF_EXISTS_OR_ADD keeps the client's value");
    assert.equal(r.headers["x-resp-added"], "r1");
    assert.equal(r.headers["x-rc-resp"], "rc");
    assert.equal(r.headers["x-upstream-proto"], undefined, "response_headers_to_remove");

    // The catch-all route has no route-level mutations: upstream header stays, authority passes through.
    const plain = await h2.request({ path: "/other", headers: { ":authority": "client.example", "x-secret": "s" } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["x-upstream-proto"], "h2");
    assert.equal(plain.headers["x-resp-added"], undefined);
    const seen2 = await up.waitForRequest(1);
    assert.equal(seen2.headers[":path"], "/other");
    assert.equal(seen2.headers[":authority"], "client.example");
    assert.equal(seen2.headers["x-secret"], "s");
  });
});
