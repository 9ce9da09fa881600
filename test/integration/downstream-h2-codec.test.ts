/**
 * PILOTFISH_DOWNSTREAM_H2: our own HTTP/2 server (src/listener/raw-h2/) is the listeners' default and
 * the rest of the suite runs on it; node:http2's server stays as the fallback (`node`). First proof
 * that the switch really selects each server (so the re-runs below are not vacuous), then the
 * integration files whose clients speak HTTP/2 to a sidecar, re-run as child test processes with
 * `node`, so the fallback keeps its coverage. Together they cover unary and the three streaming kinds,
 * trailers, deadlines, cancellation both ways, flow control, downstream attacks (rapid reset,
 * CONTINUATION and HPACK floods, SETTINGS/PING floods, slowloris, idle connections), drain, stream idle
 * timeouts, TLS and mTLS listeners, tracing and the access log.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { echoBootstrap } from "../helpers/bootstrap.js";
import * as f from "../helpers/h2-frames.js";
import { describeReruns } from "../helpers/rerun-files.js";
import { runCli, startSidecar } from "../helpers/sidecar.js";
import { REPO_ROOT, until } from "../helpers/util.js";

const NODE = { PILOTFISH_DOWNSTREAM_H2: "node" };

/** Integration files re-run with node:http2's server; each names what it adds to the coverage. */
const FILES = [
  "grpc-calls", // unary, server/client/bidi streaming, trailers, 16 MiB messages
  "grpc-failures", // deadlines, cancellation both ways, resets before and after headers
  "http-proxy", // plain HTTP/2 GET/POST, HTTP/1.1 on the same port, route timeouts
  "flow-control", // a paused client holds back a 1 GiB server stream with bounded RSS
  "abuse-downstream", // rapid reset, CONTINUATION/HPACK floods, SETTINGS/PING floods, slowloris
  "drain", // GOAWAY on SIGTERM, in-flight calls finish
  "stream-idle-timeout",
  "tls", // TLS listener with ALPN h2
  "mtls", // mTLS listener, peer identity
  "access-log", // downstream address and protocol in the log
];

/**
 * What the listener sends first on a new HTTP/2 connection, up to its SETTINGS and the frame after:
 * ours raises the connection window to initial_connection_window_size (2 MiB by default) right away,
 * node:http2's server leaves it at 65 535.
 */
async function connectionWindowRaise(env: NodeJS.ProcessEnv): Promise<number> {
  const sc = await startSidecar(echoBootstrap([1]), { env });
  const c = await f.RawH2.connect(sc.port("outbound"));
  try {
    c.write(f.ping(Buffer.from("pingpong")));
    await until("the PING ACK", 10_000, () => c.frames.some((fr) => fr.type === f.FrameType.PING));
    const wu = c.frames.find((fr) => fr.type === f.FrameType.WINDOW_UPDATE && fr.streamId === 0);
    return wu === undefined ? 0 : wu.payload.readUInt32BE(0);
  } finally {
    c.destroy();
    await sc.stop();
  }
}

void describe("PILOTFISH_DOWNSTREAM_H2", { timeout: 60_000 }, () => {
  void it("unset selects our server (it applies the 2 MiB connection window at once); node selects node:http2", async () => {
    assert.equal(await connectionWindowRaise({ PILOTFISH_DOWNSTREAM_H2: "" }), 2 * 1024 * 1024 - 65_535);
    assert.equal(await connectionWindowRaise({ PILOTFISH_DOWNSTREAM_H2: "raw" }), 2 * 1024 * 1024 - 65_535);
    assert.equal(await connectionWindowRaise(NODE), 0);
  });

  void it("a bad value stops the sidecar with exit code 2, naming the variable and the value", async () => {
    const res = await runCli(["sidecar", "-c", join(REPO_ROOT, "deploy", "does-not-matter.yaml")], { env: { PILOTFISH_DOWNSTREAM_H2: "fast" } });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /PILOTFISH_DOWNSTREAM_H2 must be "raw" or "node", got "fast"/);
  });
});

describeReruns({
  title: "proxy integration tests with PILOTFISH_DOWNSTREAM_H2=node (the fallback)",
  files: FILES,
  env: NODE,
  using: "the node:http2 server",
});
