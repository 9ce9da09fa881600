/**
 * Plain HTTP through the sidecar: HTTP/1.1 downstream forwarded over HTTP/2 (h2c) upstream, route
 * timeouts (504), and that a gRPC stream longer than a second survives a route without timeout while the
 * HCM has a stream_idle_timeout.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_PATH_PREFIX, serializeEchoRequest, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { describeStatus, serverStream } from "../helpers/grpc-client.js";
import { h2UpstreamBody, startH2Upstream, type H2Upstream } from "../helpers/h2-upstream.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { grpcFrame, http1Request, http2Request } from "../helpers/util.js";

void describe("HTTP proxying", { timeout: 120_000 }, () => {
  let web: H2Upstream;
  let echo: EchoServer;
  let sidecar: Sidecar;
  let client: EchoClient;
  let port: number;

  before(async () => {
    web = await startH2Upstream();
    echo = await startEchoServer();
    sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [
          {
            name: "outbound",
            streamIdleTimeout: "5s",
            routes: [
              { prefix: "/slow", cluster: "web", timeout: "0.3s" },
              { prefix: ECHO_PATH_PREFIX, cluster: "echo" },
              { prefix: "/", cluster: "web" },
            ],
          },
        ],
        clusters: [
          { name: "web", endpoints: [web.port] },
          { name: "echo", endpoints: [echo.port] },
        ],
      }),
    );
    port = sidecar.port("outbound");
    client = createEchoClient(port);
  });
  after(async () => {
    client?.close();
    await sidecar?.stop();
    await echo?.close();
    await web?.close();
  });

  void it("HTTP/1.1 request is forwarded over HTTP/2 to an h2c upstream and the response body arrives", { timeout: 15_000 }, async () => {
    const n = web.requests.length;
    const res = await http1Request({
      port,
      method: "POST",
      path: "/greet?x=1",
      headers: { "content-type": "text/plain", "x-custom": "from-h1" },
      body: "request-body",
    });
    assert.equal(res.status, 200, `status ${res.status}, body ${res.body}`);
    assert.equal(res.body, h2UpstreamBody("POST", "/greet?x=1", "request-body"));
    assert.equal(res.headers["x-upstream-proto"], "h2");
    const seen = await web.waitForRequest(n);
    assert.equal(seen.headers[":method"], "POST");
    assert.equal(seen.headers[":path"], "/greet?x=1");
    assert.equal(seen.headers["x-custom"], "from-h1");
    assert.equal(seen.body.toString(), "request-body");
  });

  void it("HTTP/2 GET is proxied too", { timeout: 15_000 }, async () => {
    const res = await http2Request({ port, path: "/h2-get" });
    assert.equal(res.headers[":status"], 200);
    assert.equal(res.body.toString(), h2UpstreamBody("GET", "/h2-get", ""));
  });

  void it("route timeout 0.3s to an upstream that never answers: 504 in bounded time", { timeout: 15_000 }, async () => {
    const start = Date.now();
    const res = await http1Request({ port, path: "/slow/never", timeoutMs: 5000 });
    const elapsed = Date.now() - start;
    assert.equal(res.status, 504, `status ${res.status}, body ${res.body}`);
    assert.ok(elapsed >= 250 && elapsed < 3000, `504 after ${elapsed} ms (route timeout 300 ms)`);

    const res2 = await http2Request({ port, path: "/slow/never-h2", timeoutMs: 5000 });
    assert.equal(res2.headers[":status"], 504);
  });

  void it("route timeout on a gRPC request: local reply is trailers-only :status 200 with non-OK grpc-status and grpc-message", { timeout: 15_000 }, async () => {
    const res = await http2Request({
      port,
      method: "POST",
      path: "/slow/pilotfish.test.Echo/Unary",
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: grpcFrame(serializeEchoRequest({})),
      timeoutMs: 5000,
    });
    assert.equal(res.headers[":status"], 200, `headers: ${JSON.stringify(res.headers)}`);
    const code = res.headers["grpc-status"];
    assert.ok(typeof code === "string" && code !== "0", `grpc-status ${String(code)}`);
    assert.equal(typeof res.headers["grpc-message"], "string", "grpc-message missing");
    assert.equal(res.headersEndStream, true, "not trailers-only");
  });

  void it("gRPC server stream of 1.5 s on a route without timeout survives (stream_idle_timeout 5s)", { timeout: 15_000 }, async () => {
    const start = Date.now();
    const out = await serverStream(client, { responseCount: 16, intervalMs: 100 }).done;
    const elapsed = Date.now() - start;
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages.length, 16);
    assert.ok(elapsed >= 1400, `stream lasted only ${elapsed} ms`);
  });
});
