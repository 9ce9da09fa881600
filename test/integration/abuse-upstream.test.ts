/**
 * Upstream faults behind a real sidecar: an upstream that crashes mid-stream, one that accepts TCP and
 * then says nothing, one that resets every stream (RST_STREAM storm), one that sends GOAWAY on every
 * connection (GOAWAY storm). Every call is bounded by a deadline and must end with a correct gRPC
 * status (UNAVAILABLE for a reset or lost upstream, DEADLINE_EXCEEDED for the silent one), never hang;
 * the sidecar stays up, its RSS bounded, and it serves a healthy upstream normally afterwards.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, describe, it } from "node:test";
import type * as protoLoader from "@grpc/proto-loader";
import { echoBootstrap } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_SERVICE, echoPackageDefinition, type EchoClient } from "../helpers/echo-proto.js";
import { describeStatus, serverStream, unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { grpcFrame, until } from "../helpers/util.js";

const CALLS = 200;
const RSS_GROWTH_BOUND_KB = 64 * 1024;
const serializeResponse = (echoPackageDefinition[ECHO_SERVICE] as protoLoader.ServiceDefinition).Unary.responseSerialize;
const okMessage = grpcFrame(serializeResponse({ message: "ok", payload: Buffer.alloc(0), index: 0, receivedSize: 0, receivedSha256: "", receivedCount: 0 }));

/** A node:http2 upstream whose every stream is handled by `onStream`; sessions tracked for cleanup. */
async function faultyUpstream(onStream: (stream: http2.ServerHttp2Stream, session: http2.ServerHttp2Session) => void): Promise<{ port: number; sessions: () => number; close(): Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  let total = 0;
  server.on("session", (s) => {
    total++;
    sessions.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    onStream(stream, stream.session as http2.ServerHttp2Session);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions: () => total,
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Runs `n` unary calls (10 at a time), each with `deadlineMs`; returns the status codes. */
async function manyUnary(client: EchoClient, n: number, deadlineMs: number): Promise<grpc.status[]> {
  const codes: grpc.status[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < n) {
        next++;
        const out = await unary(client, { message: "x" }, { deadlineMs, timeoutMs: deadlineMs + 5000 });
        codes.push(out.status.code);
      }
    }),
  );
  return codes;
}

function histogram(codes: grpc.status[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const c of codes) h[grpc.status[c]] = (h[grpc.status[c]] ?? 0) + 1;
  return h;
}

/** Starts a sidecar in front of `port`, runs `body`, asserts it stayed up with bounded RSS. */
async function throughSidecar(port: number, body: (client: EchoClient, sidecar: Sidecar) => Promise<void>): Promise<void> {
  const sidecar = await startSidecar(echoBootstrap([port], { cluster: { connectTimeout: "0.5s" } }));
  const client = createEchoClient(sidecar.port("outbound"));
  try {
    const before = await sidecar.rssKb();
    await body(client, sidecar);
    const grown = (await sidecar.rssKb()) - before;
    assert.equal(sidecar.proc.exitCode, null, `sidecar exited\n${sidecar.tail()}`);
    assert.ok(grown < RSS_GROWTH_BOUND_KB, `sidecar RSS grew ${grown} KiB`);
  } finally {
    client.close();
    await sidecar.stop();
  }
}

void describe("upstream faults", { timeout: 180_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  void it("crash mid-stream: every server stream that started ends UNAVAILABLE, none hangs", async () => {
    // Each stream gets headers and one message, then the connection dies under it (a crash as TCP sees it).
    const up = await faultyUpstream((stream, session) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.write(okMessage, () => setTimeout(() => (session.socket as net.Socket | undefined)?.destroy(), 30));
    });
    cleanups.push(() => up.close());
    await throughSidecar(up.port, async (client) => {
      const outs = await Promise.all(
        Array.from({ length: 50 }, () => serverStream(client, { responseCount: 5, intervalMs: 100 }, { deadlineMs: 5000, timeoutMs: 10_000 }).done),
      );
      for (const o of outs) {
        assert.equal(o.status.code, grpc.status.UNAVAILABLE, describeStatus(o.status));
        assert.ok(o.messages.length <= 1);
      }
    });
  });

  void it("accept-then-hang (TCP accepted, no HTTP/2 ever): calls end DEADLINE_EXCEEDED at their deadline", async () => {
    const held: net.Socket[] = [];
    const server = net.createServer((s) => {
      held.push(s);
      s.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });
    await throughSidecar((server.address() as net.AddressInfo).port, async (client) => {
      const start = Date.now();
      const codes = await manyUnary(client, 50, 1000);
      const elapsed = Date.now() - start;
      assert.deepEqual(histogram(codes), { DEADLINE_EXCEEDED: 50 });
      // 50 calls, 10 at a time, 1 s each: ~5 s. Far more means calls waited past their deadlines.
      assert.ok(elapsed < 12_000, `50 hanging calls took ${elapsed} ms`);
    });
  });

  void it("RST_STREAM storm: every call UNAVAILABLE, sidecar healthy", async () => {
    const up = await faultyUpstream((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    cleanups.push(() => up.close());
    await throughSidecar(up.port, async (client) => {
      const codes = await manyUnary(client, CALLS, 3000);
      assert.deepEqual(histogram(codes), { UNAVAILABLE: CALLS });
    });
  });

  void it("GOAWAY storm: each connection serves one call then GOAWAYs; every call OK or UNAVAILABLE, connections not leaked", async () => {
    const up = await faultyUpstream((stream, session) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(okMessage);
      // After this stream, no more: GOAWAY naming it the last, then close once it is done.
      if (!session.closed) session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id ?? 0);
      session.close();
    });
    cleanups.push(() => up.close());
    await throughSidecar(up.port, async (client, sidecar) => {
      const codes = await manyUnary(client, CALLS, 3000);
      const h = histogram(codes);
      assert.equal((h.OK ?? 0) + (h.UNAVAILABLE ?? 0), CALLS, JSON.stringify(h));
      // Each connection completes the one stream its GOAWAY names; streams above it were refused (not
      // processed), which Envoy also reports as a reset (UNAVAILABLE) unless a retry policy covers it.
      assert.ok((h.OK ?? 0) >= CALLS / 4, `too few calls succeeded through a GOAWAY storm: ${JSON.stringify(h)}`);
      console.log(`GOAWAY storm: ${JSON.stringify(h)} over ${up.sessions()} upstream connections`);
      // The pool must drop GOAWAYed sessions: once they finish closing, none is left behind.
      const active = async (): Promise<number> => {
        const stats = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/stats`)).text();
        return Number(/cluster\.echo\.upstream_cx_active: (\d+)/.exec(stats)?.[1] ?? "0");
      };
      await until("upstream_cx_active back to <= 1 after the storm", 5000, async () => (await active()) <= 1);
    });
  });
});
