/**
 * PILOTFISH_UPSTREAM_H2: the raw frame client is the default upstream HTTP/2 client and the rest of the
 * suite runs on it; node:http2's client stays as the fallback (`node`). First proof that the switch
 * really selects each client (so the re-runs below are not vacuous), then the integration files that
 * proxy through a sidecar to an HTTP/2 upstream, re-run as child test processes with `node`, so the
 * fallback keeps its coverage. Sidecars inherit the variable; in-process stacks read it too. Together
 * the files cover unary and the three streaming kinds, trailers, deadlines, cancellation both ways,
 * flow control (a paused 1 GiB stream), GOAWAY replay and GOAWAY storms, refused streams, upstream
 * resets and crashes, TLS and mTLS, keepalive and idle timeouts, and connect failures.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ECHO_PATH_PREFIX } from "../helpers/echo-proto.js";
import { echoBootstrap } from "../helpers/bootstrap.js";
import { describeReruns } from "../helpers/rerun-files.js";
import { runCli, startSidecar } from "../helpers/sidecar.js";
import { REPO_ROOT } from "../helpers/util.js";

const NODE = { PILOTFISH_UPSTREAM_H2: "node" };

/** Integration files re-run with node:http2's client; each names what it adds to the coverage. */
const FILES = [
  "grpc-calls", // unary, server/client/bidi streaming, trailers, 16 MiB messages
  "grpc-failures", // deadlines, cancellation both ways, upstream resets before and after headers
  "http-proxy", // plain HTTP/2 GET/POST, bodies, headers
  "flow-control", // a paused client holds back a 1 GiB server stream with bounded RSS
  "pool-and-protocols", // MAX_CONCURRENT_STREAMS growth, one session, GOAWAY replay
  "pool-lifecycle", // idle timeout, keepalive PING
  "response-flags", // connect failure (UF)
  "retries",
  "retry-policy", // refused streams, resets, per-try timeouts
  "tls", // upstream TLS with ALPN h2
  "mtls", // upstream mTLS with SAN checks, tls-failure
  "abuse-upstream", // crash mid-stream, accept-then-hang, RST_STREAM and GOAWAY storms
];

/** The SETTINGS a sidecar's upstream connection sent, seen from a node:http2 upstream. */
async function upstreamClientSettings(env: NodeJS.ProcessEnv): Promise<http2.Settings> {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end();
  });
  const settings = new Promise<http2.Settings>((resolve) => server.on("session", (s) => s.once("remoteSettings", resolve)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const sc = await startSidecar(echoBootstrap([(server.address() as AddressInfo).port]), { env });
  const client = http2.connect(`http://127.0.0.1:${sc.port("outbound")}`);
  try {
    const req = client.request({ ":method": "POST", ":path": `${ECHO_PATH_PREFIX}Unary`, "content-type": "application/grpc", te: "trailers" });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    req.resume();
    await once(req, "close");
    return await settings;
  } finally {
    client.close();
    await sc.stop();
    server.close();
  }
}

void describe("PILOTFISH_UPSTREAM_H2", { timeout: 60_000 }, () => {
  void it("unset selects the raw client (its SETTINGS carry MAX_HEADER_LIST_SIZE 262144); node selects node:http2", async () => {
    const raw = await upstreamClientSettings({ PILOTFISH_UPSTREAM_H2: "" });
    assert.equal(raw.maxHeaderListSize, 262_144);
    assert.equal(raw.enablePush, false);
    const explicit = await upstreamClientSettings({ PILOTFISH_UPSTREAM_H2: "raw" });
    assert.equal(explicit.maxHeaderListSize, 262_144);
    const node = await upstreamClientSettings(NODE);
    assert.notEqual(node.maxHeaderListSize, 262_144);
  });

  void it("a bad value stops the sidecar with exit code 2, naming the variable and the value", async () => {
    const res = await runCli(["sidecar", "-c", join(REPO_ROOT, "deploy", "does-not-matter.yaml")], { env: { PILOTFISH_UPSTREAM_H2: "fast" } });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /PILOTFISH_UPSTREAM_H2 must be "raw" or "node", got "fast"/);
  });
});

describeReruns({
  title: "proxy integration tests with PILOTFISH_UPSTREAM_H2=node (the fallback)",
  files: FILES,
  env: NODE,
  using: "the node:http2 upstream client",
});
