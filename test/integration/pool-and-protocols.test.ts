/**
 * Upstream connection pools and protocol selection:
 * - HTTP/2 pool: a peer advertising SETTINGS_MAX_CONCURRENT_STREAMS 2 gets more sessions under 5
 *   concurrent held requests; with a large limit, 20 concurrent requests share exactly one session.
 * - GOAWAY: streams the upstream never processed (id > lastStreamID) and later requests go out again on a
 *   new session; none is lost; the host's cx_total reaches 2.
 * - HTTP/1.1 upstream (cluster without typed_extension_protocol_options): GET and POST through an h2
 *   client arrive as HTTP/1.1; a gRPC call routed there fails with a grpc-status naming the cluster.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { describe, it } from "node:test";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { serializeEchoRequest } from "../helpers/echo-proto.js";
import {
  clusterHostStats,
  connectH2,
  startHttp1Upstream,
  startProgrammableH2,
} from "../helpers/programmable-upstreams.js";
import { startSidecar } from "../helpers/sidecar.js";
import { deferred, grpcFrame } from "../helpers/util.js";

function plainBootstrap(cluster: { name: string; port: number; http2: boolean }): string {
  return bootstrapYaml({
    listeners: [{ name: "outbound", routes: [{ prefix: "/", cluster: cluster.name, timeout: "10s" }] }],
    clusters: [{ name: cluster.name, endpoints: [cluster.port], http2: cluster.http2 }],
  });
}

void describe("upstream HTTP/2 pool", { timeout: 60_000 }, () => {
  for (const warm of [false, true]) {
    const label = warm ? "after a warm-up request (peer SETTINGS known)" : "on a cold pool (first burst)";
    void it(`opens more sessions when the peer's SETTINGS_MAX_CONCURRENT_STREAMS (2) is reached, ${label}`, { timeout: 30_000 }, async (t) => {
      const release = deferred<void>();
      let holding = !warm;
      const up = await startProgrammableH2({
        settings: { maxConcurrentStreams: 2 },
        handler: (stream, ctx) => {
          const answer = (): void => {
            if (stream.destroyed) return;
            stream.respond({ ":status": 200 });
            stream.end(`held ${ctx.req.path} session=${ctx.sessionIndex}`);
          };
          if (holding) void release.promise.then(answer);
          else answer();
        },
      });
      t.after(() => up.close());
      const sidecar = await startSidecar(plainBootstrap({ name: "pool", port: up.port, http2: true }));
      t.after(() => sidecar.stop());
      const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
      t.after(() => client.close());
      if (warm) {
        assert.equal((await client.request({ path: "/warm" })).status, 200);
        holding = true;
      }
      const before = up.requests.length;

      const pending = Array.from({ length: 5 }, (_, i) => client.request({ path: `/held/${i}`, timeoutMs: 15_000 }));
      // Hold every response until all 5 are at the upstream at once (impossible on one session capped at
      // 2 streams), or until one of them settles early (a failure, reported below).
      await Promise.race([up.waitForRequests(before + 5, 10_000), Promise.race(pending).catch(() => undefined)]).catch(() => undefined);
      release.resolve();
      const results = await Promise.allSettled(pending);
      const bad = results.flatMap((r, i) =>
        r.status === "rejected"
          ? [`request ${i}: ${String(r.reason)}`]
          : r.value.status !== 200 || !r.value.body.toString().startsWith(`held /held/${i} `)
            ? [`request ${i}: ${r.value.status} ${r.value.body.toString()}`]
            : [],
      );
      assert.deepEqual(bad, [], `some of 5 concurrent requests failed (upstream sessions ${up.sessions.length}, streams seen ${up.streamCount()})`);
      assert.ok(up.sessions.length > 1, `expected more than one upstream connection, saw ${up.sessions.length}`);
      // Each session carried at most 2 of the held requests.
      const perSession = new Map<number, number>();
      for (const r of up.requests.slice(before)) perSession.set(r.session, (perSession.get(r.session) ?? 0) + 1);
      for (const [s, n] of perSession) assert.ok(n <= 2, `session ${s} carried ${n} concurrent held streams (limit 2)`);
    });
  }

  void it("multiplexes 20 concurrent requests on exactly one session when the peer allows many streams", { timeout: 30_000 }, async (t) => {
    const release = deferred<void>();
    const up = await startProgrammableH2({
      settings: { maxConcurrentStreams: 1000 },
      handler: (stream, ctx) => {
        void release.promise.then(() => {
          if (stream.destroyed) return;
          stream.respond({ ":status": 200 });
          stream.end(`ok ${ctx.req.path}`);
        });
      },
    });
    t.after(() => up.close());
    const sidecar = await startSidecar(plainBootstrap({ name: "pool", port: up.port, http2: true }));
    t.after(() => sidecar.stop());
    const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => client.close());

    const pending = Array.from({ length: 20 }, (_, i) => client.request({ path: `/m/${i}`, timeoutMs: 15_000 }));
    await up.waitForRequests(20, 10_000);
    release.resolve();
    const results = await Promise.all(pending);
    results.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `ok /m/${i}`);
    });
    assert.equal(up.sessions.length, 1, `20 concurrent streams should share one upstream connection, saw ${up.sessions.length}`);
  });
});

void describe("upstream GOAWAY", { timeout: 60_000 }, () => {
  void it("replays unprocessed in-flight streams and later requests on a new session; none lost", { timeout: 30_000 }, async (t) => {
    // Session 0: holds everything until 5 streams are open, then GOAWAY(lastStreamID = first stream),
    // answers the first stream and closes. Later sessions answer at once.
    const first = deferred<{ stream: http2.ServerHttp2Stream; session: http2.ServerHttp2Session }>();
    const allArrived = deferred<void>();
    let session0Streams = 0;
    const up = await startProgrammableH2({
      onStream: (stream, _h, sessionIndex) => {
        if (sessionIndex !== 0) return;
        session0Streams++;
        if (session0Streams === 1) first.resolve({ stream, session: stream.session as http2.ServerHttp2Session });
        if (session0Streams === 5) allArrived.resolve();
      },
      handler: (stream, ctx) => {
        if (ctx.sessionIndex === 0) return; // session 0 answers only the first stream, below
        stream.respond({ ":status": 200 });
        stream.end(`${ctx.req.path} session=${ctx.sessionIndex}`);
      },
    });
    t.after(() => up.close());
    const sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [{ name: "outbound", routes: [{ prefix: "/", cluster: "goaway", timeout: "10s" }] }],
        clusters: [{ name: "goaway", endpoints: [up.port] }],
      }),
    );
    t.after(() => sidecar.stop());
    const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => client.close());

    const a = client.request({ path: "/a", timeoutMs: 15_000 });
    const { stream: firstStream, session: s0 } = await first.promise;
    const inflight = ["/b", "/c", "/d", "/e"].map((p) => client.request({ path: p, timeoutMs: 15_000 }));
    await Promise.race([
      allArrived.promise,
      up.waitForStreams(5 + 100, 8000).catch(() => {
        throw new Error(`in-flight requests did not reach upstream session 0 (it saw ${session0Streams}, sessions ${up.sessions.length})`);
      }),
    ]);
    const firstId = firstStream.id ?? 1;
    s0.goaway(http2.constants.NGHTTP2_NO_ERROR, firstId);
    firstStream.respond({ ":status": 200 });
    firstStream.end(`/a session=0`);
    firstStream.on("close", () => s0.close());

    const results = await Promise.all([a, ...inflight]);
    assert.deepEqual(
      results.map((r) => [r.status, r.body.toString().split(" ")[0]]),
      [[200, "/a"], [200, "/b"], [200, "/c"], [200, "/d"], [200, "/e"]],
    );
    for (const r of results.slice(1)) assert.doesNotMatch(r.body.toString(), /session=0$/, "unprocessed streams must be answered on a new session");

    // Subsequent requests go to a new session too.
    const later = await Promise.all(["/f", "/g", "/h"].map((p) => client.request({ path: p })));
    for (const r of later) {
      assert.equal(r.status, 200);
      assert.doesNotMatch(r.body.toString(), /session=0$/);
    }
    // No request lost or duplicated: each path processed exactly once (session 0 processed only /a).
    const processed = up.requests.filter((r) => r.session !== 0 || r.streamId === firstId).map((r) => r.path).sort();
    assert.deepEqual(processed, ["/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h"]);
    assert.ok(up.sessions.length >= 2, `sessions: ${up.sessions.length}`);

    assert.ok(sidecar.adminPort, "admin port");
    const stats = await clusterHostStats(sidecar.adminPort);
    const host = stats.get(`goaway/${up.port}`);
    assert.ok(host, `host missing from /clusters: ${JSON.stringify([...stats.keys()])}`);
    assert.ok((host.cx_total ?? 0) >= 2, `cx_total ${host.cx_total}`);
  });
});

void describe("HTTP/1.1 upstream (no protocol options, as Envoy)", { timeout: 60_000 }, () => {
  void it("forwards GET and POST with a body from an h2 client over HTTP/1.1", { timeout: 20_000 }, async (t) => {
    const up = await startHttp1Upstream();
    t.after(() => up.close());
    const sidecar = await startSidecar(plainBootstrap({ name: "legacy", port: up.port, http2: false }));
    t.after(() => sidecar.stop());
    const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => client.close());

    const get = await client.request({ path: "/items?x=1" });
    assert.equal(get.status, 200);
    assert.equal(get.body.toString(), "GET /items?x=1 body=");
    assert.equal(get.headers["x-upstream-proto"], "http/1.1");

    const payload = "a".repeat(3000) + "-end";
    const post = await client.request({ path: "/submit", method: "POST", body: payload, headers: { "content-type": "text/plain" } });
    assert.equal(post.status, 200);
    assert.equal(post.body.toString(), `POST /submit body=${payload}`);
    assert.deepEqual(up.versions, ["1.1", "1.1"]);
    assert.equal(up.requests[1].body.toString(), payload);
  });

  void it("a gRPC request routed to the HTTP/1.1 cluster gets a grpc-status error naming the cluster", { timeout: 20_000 }, async (t) => {
    const up = await startHttp1Upstream();
    t.after(() => up.close());
    const sidecar = await startSidecar(plainBootstrap({ name: "legacy-http1-cluster", port: up.port, http2: false }));
    t.after(() => sidecar.stop());
    const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => client.close());

    const res = await client.request({
      path: "/pilotfish.test.Echo/Unary",
      method: "POST",
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: grpcFrame(serializeEchoRequest({ message: "hi" })),
    });
    assert.equal(res.status, 200, "gRPC errors travel with :status 200");
    const status = res.headers["grpc-status"] ?? res.trailers?.["grpc-status"];
    const message = String(res.headers["grpc-message"] ?? res.trailers?.["grpc-message"] ?? "");
    assert.ok(status !== undefined && status !== "0", `expected a non-OK grpc-status, got ${String(status)}`);
    assert.match(decodeURIComponent(message), /legacy-http1-cluster/);
    assert.equal(up.requests.length, 0, "the gRPC request must not reach the HTTP/1.1 upstream");
  });
});
