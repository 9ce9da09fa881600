/**
 * RawH2Pool against real peers on 127.0.0.1: one connection for many streams, slots returned, GOAWAY
 * refusing a stream and a fresh connection for the next request, and the failure reasons the router
 * maps to flags (connect-failure, tls-failure for TLS without ALPN h2, connect timeout).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { decodeCluster } from "../../src/config/decode/cluster.js";
import { Errors } from "../../src/config/decode/field-errors.js";
import type { ClusterConfig } from "../../src/config/model.js";
import { Cluster as PbCluster } from "../../src/gen/envoy/config/cluster/v3/cluster.js";
import { tlsStats } from "../../src/security/tls-stats.js";
import { StatsStore } from "../../src/stats/stats-store.js";
import { clusterStats } from "../../src/upstream/cluster-stats.js";
import { Host } from "../../src/upstream/host.js";
import { RawH2Pool } from "../../src/upstream/raw-h2-pool.js";
import type { PoolFailure, PoolWaiter, UpstreamStream } from "../../src/upstream/upstream-pool.js";
import { UpstreamTls } from "../../src/upstream/upstream-tls.js";
import { makePki, type Pki } from "../helpers/pki.js";
import { closedPort } from "../helpers/util.js";

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR } = http2.constants;

function clusterConfig(overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  const errors = new Errors();
  const config = decodeCluster(PbCluster.fromPartial({ name: "c", loadAssignment: { clusterName: "c", endpoints: [] } }), "c", errors);
  assert.deepEqual(errors.list, []);
  return { ...config, ...overrides };
}

function poolTo(port: number, opts: { config?: Partial<ClusterConfig>; tls?: UpstreamTls } = {}) {
  const stats = clusterStats(new StatsStore(), "c");
  const host = new Host({ address: "127.0.0.1", port }, 1, undefined, "HEALTHY");
  const pool = new RawH2Pool(host, clusterConfig(opts.config), stats, opts.tls);
  return { pool, host, stats };
}

/** A PoolWaiter as a promise. */
function ask(pool: RawH2Pool, path: string): Promise<UpstreamStream | PoolFailure> {
  return new Promise((resolve) => {
    const waiter: PoolWaiter = { onPoolReady: resolve, onPoolFailure: resolve };
    pool.request({ ":method": "GET", ":path": path }, true, waiter);
  });
}

async function closed(s: UpstreamStream): Promise<number | undefined> {
  if (!s.destroyed) {
    s.on("data", () => {});
    await once(s as unknown as NodeJS.EventEmitter, "close");
  }
  return s.rstCode;
}

let server: http2.Http2Server;
let port = 0;
let sessions = 0;
const held: http2.ServerHttp2Stream[] = [];

void before(async () => {
  server = http2.createServer();
  server.on("session", (s) => {
    sessions++;
    s.on("error", () => {});
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    if (headers[":path"] === "/hold") {
      held.push(stream);
      return;
    }
    stream.respond({ ":status": 200 });
    stream.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});

void after(() => {
  server.close();
});

void describe("RawH2Pool", { timeout: 30_000 }, () => {
  void it("serves 50 concurrent requests on one connection and returns every slot", async () => {
    const before = sessions;
    const { pool } = poolTo(port);
    const streams = await Promise.all(Array.from({ length: 50 }, () => ask(pool, "/")));
    const codes = await Promise.all(streams.map((s) => (typeof s === "string" ? Promise.resolve(s) : closed(s))));
    assert.deepEqual(new Set(codes), new Set([NGHTTP2_NO_ERROR]));
    assert.equal(pool.connections, 1);
    assert.equal(sessions - before, 1);
    // The slots came back: another request goes out on the same connection.
    const again = await ask(pool, "/");
    assert.notEqual(typeof again, "string");
    assert.equal(await closed(again as UpstreamStream), NGHTTP2_NO_ERROR);
    assert.equal(sessions - before, 1);
    pool.destroy();
  });

  void it("GOAWAY: a stream above last-stream-id comes back REFUSED_STREAM; the next request gets a new connection", async () => {
    const before = sessions;
    const { pool } = poolTo(port);
    const kept = (await ask(pool, "/hold")) as UpstreamStream;
    while (held.length < 1) await once(server, "stream");
    const refused = (await ask(pool, "/hold")) as UpstreamStream;
    while (held.length < 2) await once(server, "stream");
    const [first] = held.splice(0);
    first.session!.goaway(NGHTTP2_NO_ERROR, first.id);
    assert.equal(await closed(refused), NGHTTP2_REFUSED_STREAM);
    first.respond({ ":status": 200 });
    first.end("kept");
    assert.equal(await closed(kept), NGHTTP2_NO_ERROR);
    const next = (await ask(pool, "/")) as UpstreamStream;
    assert.equal(await closed(next), NGHTTP2_NO_ERROR);
    assert.equal(sessions - before, 2);
    pool.destroy();
  });

  void it("a refused connection fails queued requests with connect-failure", async () => {
    const { pool, stats, host } = poolTo(await closedPort());
    assert.equal(await ask(pool, "/"), "connect-failure");
    assert.equal(stats.cxConnectFail.value, 1);
    assert.equal(host.stats.cxConnectFail, 1);
    assert.equal(stats.cxActive.value, 0);
    pool.destroy();
  });

  void describe("with TLS", () => {
    let pki: Pki;
    before(async () => {
      pki = await makePki();
    });
    after(async () => {
      await pki.cleanup();
    });
    const upstreamTls = (): UpstreamTls =>
      new UpstreamTls(
        { certificateChainFile: undefined, privateKeyFile: undefined, trustedCaFile: undefined, sanMatchers: [], sni: "", alpnProtocols: [] },
        tlsStats(new StatsStore(), "cluster.c."),
      );

    void it("TLS that comes up without ALPN h2 fails with tls-failure", async () => {
      const leaf = await pki.ca.issue("upstream", ["DNS:localhost"]);
      // No ALPNProtocols: the handshake succeeds and selects no protocol.
      const srv = tls.createServer({ key: leaf.key, cert: leaf.cert }, (s) => s.on("error", () => {}));
      srv.listen(0, "127.0.0.1");
      await once(srv, "listening");
      const { pool } = poolTo((srv.address() as AddressInfo).port, { tls: upstreamTls() });
      assert.equal(await ask(pool, "/"), "tls-failure");
      pool.destroy();
      srv.close();
    });

    void it("a TLS handshake that never completes hits the connect timeout", async () => {
      const sockets: net.Socket[] = [];
      const srv = net.createServer((s) => sockets.push(s));
      srv.listen(0, "127.0.0.1");
      await once(srv, "listening");
      const { pool, stats } = poolTo((srv.address() as AddressInfo).port, { tls: upstreamTls(), config: { connectTimeoutMs: 200 } });
      const started = Date.now();
      assert.equal(await ask(pool, "/"), "connect-failure");
      assert.ok(Date.now() - started < 5000);
      assert.equal(stats.cxConnectTimeout.value, 1);
      assert.equal(stats.cxConnectFail.value, 1);
      pool.destroy();
      for (const s of sockets) s.destroy();
      srv.close();
    });
  });
});
