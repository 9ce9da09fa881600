/**
 * The raw HTTP/2 upstream client (src/upstream/raw-h2) against a real node:http2 server on 127.0.0.1:
 * bodies, flow control with default 64 KiB windows both ways, trailers, 200 concurrent streams,
 * CONTINUATION, PING, and the server's RST_STREAM and GOAWAY; plus a hand-written TCP peer for what
 * node:http2 never sends (protocol violations).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { RawH2Connection } from "../../src/upstream/raw-h2/raw-h2-connection.js";
import type { RawH2Stream } from "../../src/upstream/raw-h2/raw-h2-stream.js";
import * as f from "../helpers/h2-frames.js";
import { call, connectRaw, type Reply } from "./raw-h2-helpers.js";

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

function handler(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const path = headers[":path"];
  if (path === "/hello") {
    stream.respond({ ":status": 200, "content-type": "text/plain", "x-multi": ["a", "b"], "set-cookie": ["a=1", "b=2"] });
    stream.end("hello, raw h2");
  } else if (path === "/echo") {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
      stream.end(Buffer.concat(parts));
    });
  } else if (path === "/echo.Echo/Echo") {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "OK" }));
      stream.end(Buffer.concat(parts));
    });
  } else if (path === "/big-headers") {
    // 40 KiB of header value: nghttp2 has to send HEADERS + CONTINUATION frames (16 KiB max frame).
    stream.respond({ ":status": 200, "x-big": "b".repeat(40 * 1024) });
    stream.end("ok");
  } else if (path === "/reset") {
    // node:http2 also reports the reset it sends as an error on its own stream object.
    stream.on("error", () => {});
    stream.close(NGHTTP2_REFUSED_STREAM);
  } else if (path === "/rst-no-error") {
    // Part of a body, then RST_STREAM(NO_ERROR): node's client ends such a stream as if cleanly.
    stream.respond({ ":status": 200 });
    stream.write("part", () => stream.close(NGHTTP2_NO_ERROR));
  } else if (path === "/slow") {
    // Answered (or left to be refused by a GOAWAY) by the test that holds it.
    stream.on("error", () => {});
    slow.push(stream);
  } else {
    stream.respond({ ":status": 404 });
    stream.end();
  }
}

const slow: http2.ServerHttp2Stream[] = [];
let server: http2.Http2Server;
let port = 0;
const sessions = new Set<http2.ServerHttp2Session>();

async function nextSlow(): Promise<http2.ServerHttp2Stream> {
  while (slow.length === 0) await once(server, "stream");
  return slow.shift()!;
}

void before(async () => {
  server = http2.createServer();
  server.on("stream", handler);
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});

void after(async () => {
  for (const s of sessions) s.destroy();
  server.close();
  await once(server, "close");
});

void describe("raw HTTP/2 connection", () => {
  void it("GETs a body; response headers have node's IncomingHttpHeaders shape", async () => {
    const c = await connectRaw(port);
    const r = await call(c, { ":method": "GET", ":path": "/hello", "user-agent": "raw-h2-test" });
    assert.equal(r.headers[":status"], 200);
    assert.equal(r.headers["content-type"], "text/plain");
    assert.equal(r.headers["x-multi"], "a, b");
    assert.deepEqual(r.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(r.body.toString(), "hello, raw h2");
    assert.equal(r.trailers, undefined);
    assert.equal(r.rstCode, NGHTTP2_NO_ERROR);
    assert.deepEqual(r.events, ["response", "data", "end", "close"]);
    // A second request reuses HPACK's dynamic table entries from the first, both ways.
    const r2 = await call(c, { ":method": "GET", ":path": "/hello", "user-agent": "raw-h2-test" });
    assert.equal(r2.body.toString(), "hello, raw h2");
    assert.equal(r2.headers["content-type"], "text/plain");
    const closed = once(c, "close");
    c.close();
    await closed;
  });

  void it("streams a 1 MiB POST through 64 KiB windows, honouring write() and 'drain'", async () => {
    const c = await connectRaw(port);
    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >>> 11)) & 0xff;
    const s = c.request({ ":method": "POST", ":path": "/echo" }, false);
    const reply = collect(s);
    let drains = 0;
    // 16 KiB chunks; the peer's 64 KiB windows fill after four, so write() must say stop.
    for (let off = 0; off < body.length; off += 16 * 1024) {
      if (!s.write(body.subarray(off, off + 16 * 1024))) {
        await once(s, "drain");
        drains++;
      }
    }
    s.end();
    const r = await reply;
    assert.ok(drains > 0, "write() never reported a full window");
    assert.equal(r.headers[":status"], 200);
    assert.ok(r.body.equals(body));
    c.close();
  });

  void it("receives a gRPC-style response with grpc-status trailers before 'end'", async () => {
    const c = await connectRaw(port);
    const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, 34]), Buffer.from("\n\x20" + "x".repeat(32))]);
    const r = await call(c, { ":method": "POST", ":path": "/echo.Echo/Echo", "content-type": "application/grpc", te: "trailers" }, msg);
    assert.equal(r.headers[":status"], 200);
    assert.ok(r.body.equals(msg));
    assert.deepEqual({ ...r.trailers }, { "grpc-status": "0", "grpc-message": "OK" });
    assert.deepEqual(r.events, ["response", "data", "trailers", "end", "close"]);
    c.close();
  });

  void it("multiplexes 200 concurrent streams on one socket", async () => {
    const c = await connectRaw(port);
    const calls: Promise<Reply>[] = [];
    for (let i = 0; i < 200; i++) calls.push(call(c, { ":method": "POST", ":path": "/echo" }, Buffer.from(`req-${i}`)));
    assert.equal(c.activeStreams, 200);
    const replies = await Promise.all(calls);
    replies.forEach((r, i) => assert.equal(r.body.toString(), `req-${i}`));
    c.close();
  });

  void it("reassembles a response header block split over CONTINUATION frames", async () => {
    const c = await connectRaw(port);
    const r = await call(c, { ":method": "GET", ":path": "/big-headers" });
    assert.equal(r.headers["x-big"], "b".repeat(40 * 1024));
    assert.equal(r.body.toString(), "ok");
    c.close();
  });

  void it("answers the server's PING and gets its own answered", async () => {
    const c = await connectRaw(port);
    const [session] = [...sessions].filter((s) => s.socket?.remotePort === c.socket.localPort);
    const acked = await new Promise<Buffer>((resolve, reject) =>
      session.ping(Buffer.from("rawh2!!!"), (err, _ms, payload) => (err ? reject(err) : resolve(payload))),
    );
    assert.equal(acked.toString(), "rawh2!!!");
    const ack = once(c, "pingAck");
    c.ping();
    await ack;
    c.close();
  });

  void it("pause() stops crediting the window; resume() delivers and credits the rest", async () => {
    const c = await connectRaw(port);
    const sent = recordWrites(c);
    const s = c.request({ ":method": "GET", ":path": "/slow" }, true);
    const srv = await nextSlow();
    const big = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    srv.respond({ ":status": 200 });
    let got = 0;
    let whilePaused = 0;
    s.on("data", (chunk: Buffer) => {
      got += chunk.length;
      if (s.paused) whilePaused++;
    });
    s.pause();
    const ended = once(s, "end");
    srv.end(big);
    // The server can get one stream window (65 535 B) out; then only our credit lets it go on.
    const held = (): number => s.inbox.reduce((n, b) => n + b.length, 0);
    while (held() < 65_535) await once(c.socket, "data");
    // A PING round trip: the server has seen everything we sent before it.
    const ack = once(c, "pingAck");
    c.ping();
    await ack;
    assert.equal(held(), 65_535);
    assert.equal(windowUpdates(sent, s.id), 0, "no WINDOW_UPDATE for the paused stream");
    assert.equal(got, 0);
    assert.equal(whilePaused, 0);
    s.resume();
    await ended;
    assert.equal(got, big.length);
    assert.ok(windowUpdates(sent, s.id) > 0, "resume() credits the stream");
    c.close();
  });

  void it("a server RST_STREAM closes the stream with its code and keeps the connection", async () => {
    const c = await connectRaw(port);
    const r = await call(c, { ":method": "GET", ":path": "/reset" });
    assert.equal(r.rstCode, NGHTTP2_REFUSED_STREAM);
    assert.deepEqual(r.events, ["close"]);
    const ok = await call(c, { ":method": "GET", ":path": "/hello" });
    assert.equal(ok.headers[":status"], 200);
    c.close();
  });

  void it("a server RST_STREAM(NO_ERROR) ends the stream as node's client does: 'end', then 'close' with NO_ERROR", async () => {
    const c = await connectRaw(port);
    const r = await call(c, { ":method": "GET", ":path": "/rst-no-error" });
    assert.equal(r.body.toString(), "part");
    assert.equal(r.rstCode, NGHTTP2_NO_ERROR);
    assert.deepEqual(r.events, ["response", "data", "end", "close"]);
    c.close();
  });

  void it("close(code) sends RST_STREAM(code), closes once, and the server sees the reset", async () => {
    const c = await connectRaw(port);
    const s = c.request({ ":method": "GET", ":path": "/slow" }, true);
    const srv = await nextSlow();
    const srvClosed = once(srv, "close");
    let closes = 0;
    s.on("close", () => closes++);
    s.close(NGHTTP2_CANCEL);
    s.close(NGHTTP2_CANCEL);
    await srvClosed;
    assert.equal(srv.rstCode, NGHTTP2_CANCEL);
    assert.equal(s.rstCode, NGHTTP2_CANCEL);
    assert.equal(s.destroyed, true);
    assert.equal(closes, 1);
    c.close();
  });

  void it("on GOAWAY finishes streams the server kept and refuses the others", async () => {
    const c = await connectRaw(port);
    const kept = call(c, { ":method": "GET", ":path": "/slow" });
    const keptSrv = await nextSlow();
    const refused = call(c, { ":method": "GET", ":path": "/slow" });
    await nextSlow();
    const goaway = once(c, "goaway");
    const closed = once(c, "close");
    keptSrv.session!.goaway(NGHTTP2_NO_ERROR, keptSrv.id);
    const [code, lastId] = (await goaway) as [number, number];
    assert.equal(code, 0);
    assert.equal(lastId, 1);
    assert.equal(c.acceptsStreams, false);
    assert.equal((await refused).rstCode, NGHTTP2_REFUSED_STREAM);
    keptSrv.respond({ ":status": 200 });
    keptSrv.end("late but kept");
    assert.equal((await kept).body.toString(), "late but kept");
    // With GOAWAY received and nothing left in flight, the client closes the socket itself.
    await closed;
  });
});

/** Everything the connection writes from now on. */
function recordWrites(c: RawH2Connection): Buffer[] {
  const out: Buffer[] = [];
  const sock = c.socket as unknown as { write: (b: Buffer) => boolean };
  const write = sock.write.bind(sock);
  sock.write = (b: Buffer) => {
    out.push(Buffer.from(b));
    return write(b);
  };
  return out;
}

/** WINDOW_UPDATE frames for `id` in writes that start on frame boundaries (the preface went earlier). */
function windowUpdates(writes: Buffer[], id: number): number {
  const wire = Buffer.concat(writes);
  let n = 0;
  for (let off = 0; off + 9 <= wire.length; off += 9 + wire.readUIntBE(off, 3)) {
    if (wire[off + 3] === f.FrameType.WINDOW_UPDATE && wire.readUInt32BE(off + 5) === id) n++;
  }
  return n;
}

function collect(s: RawH2Stream): Promise<Reply> {
  return call(null, {}, null, s);
}

void describe("raw HTTP/2 connection against a broken peer", () => {
  /** A TCP peer that sends SETTINGS then `frames` once the client's first HEADERS arrived. */
  async function brokenPeer(
    frames: (streamId: number) => Buffer,
  ): Promise<{ port: number; received: Buffer[]; until(pred: (wire: Buffer) => boolean): Promise<void>; close(): void }> {
    const received: Buffer[] = [];
    const waiters: Array<() => void> = [];
    const srv = net.createServer((sock) => {
      let sent = false;
      sock.on("error", () => {});
      sock.write(f.settings());
      sock.on("data", (d: Buffer) => {
        received.push(d);
        if (!sent && Buffer.concat(received).includes(Buffer.from([0x01, 0x05, 0x00, 0x00, 0x00, 0x01]))) {
          sent = true;
          sock.write(frames(1));
        }
        for (const w of waiters.splice(0)) w();
      });
    });
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const until = async (pred: (wire: Buffer) => boolean): Promise<void> => {
      while (!pred(Buffer.concat(received))) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    return { port: (srv.address() as AddressInfo).port, received, until, close: () => srv.close() };
  }

  /** The RST_STREAM error code the client sent for stream 1, or undefined. */
  function rstSent(wire: Buffer): number | undefined {
    for (let off = 24; off + 9 <= wire.length; ) {
      const len = wire.readUIntBE(off, 3);
      if (wire[off + 3] === f.FrameType.RST_STREAM && wire.readUInt32BE(off + 5) === 1) return wire.readUInt32BE(off + 9);
      off += 9 + len;
    }
    return undefined;
  }

  void it("answers DATA on stream 0 with GOAWAY(PROTOCOL_ERROR) and fails its streams as a dead connection", async () => {
    const peer = await brokenPeer(() => f.frame(f.FrameType.DATA, 0, 0, Buffer.from("A")));
    const c = new RawH2Connection(net.connect({ port: peer.port, host: "127.0.0.1" }), { authority: "x" });
    await once(c, "connect");
    const closed = once(c, "close");
    const s = c.request({ ":method": "GET", ":path": "/" }, true);
    const r = await collect(s);
    await closed;
    assert.equal(r.rstCode, NGHTTP2_CANCEL);
    assert.equal(s.session, undefined);
    const wire = Buffer.concat(peer.received);
    const goaway = wire.subarray(wire.length - 17);
    assert.equal(goaway[3], f.FrameType.GOAWAY);
    assert.equal(goaway.readUInt32BE(13), 1);
    peer.close();
  });

  const malformed: Array<[string, Buffer[]]> = [
    ["an upper-case field name", [f.literal(":status", "200"), f.literal("Content-Type", "text/plain")]],
    ["a connection-specific field", [f.literal(":status", "200"), f.literal("connection", "keep-alive")]],
    ["no :status", [f.literal("content-type", "text/plain")]],
    ["a pseudo-header after a regular field", [f.literal("content-type", "text/plain"), f.literal(":status", "200")]],
    ["a request pseudo-header", [f.literal(":status", "200"), f.literal(":path", "/")]],
    ["a 2-digit :status", [f.literal(":status", "20")]],
    ["a value with a line feed", [f.literal(":status", "200"), f.literal("x-a", "a\nb")]],
  ];
  for (const [what, fields] of malformed) {
    void it(`resets a response with ${what} as PROTOCOL_ERROR`, async () => {
      const peer = await brokenPeer((id) => f.headers(id, Buffer.concat(fields), { endStream: true }));
      const c = new RawH2Connection(net.connect({ port: peer.port, host: "127.0.0.1" }), { authority: "x" });
      await once(c, "connect");
      const r = await collect(c.request({ ":method": "GET", ":path": "/" }, true));
      assert.equal(r.rstCode, 1);
      assert.deepEqual(r.events, ["close"]);
      await peer.until((wire) => rstSent(wire) !== undefined);
      assert.equal(rstSent(Buffer.concat(peer.received)), 1);
      assert.equal(c.acceptsStreams, true, "a malformed response is a stream error, not a connection error");
      c.destroy();
      peer.close();
    });
  }

  void it("write() returns false when the socket backs up although the windows are open; 'drain' follows once the peer reads", async () => {
    // A peer with the largest windows that stops reading: only the socket can push back.
    const peer = Promise.withResolvers<net.Socket>();
    const srv = net.createServer((sock) => {
      sock.on("error", () => {});
      sock.write(Buffer.concat([f.windowUpdate(0, 0x7fff_ffff - 65_535), f.settings([[4, 0x7fff_ffff]])]));
      sock.pause();
      peer.resolve(sock);
    });
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const c = await connectRaw((srv.address() as AddressInfo).port);
    const peerSock = await peer.promise;
    const s = c.request({ ":method": "POST", ":path": "/upload" }, false);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    // One chunk per loop turn, so every batch reaches the socket before the next write.
    while (s.write(chunk)) {
      written += chunk.length;
      assert.ok(written < 256 * 1024 * 1024, "write() never pushed back");
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(c.socket.writableLength > 0, "the socket, not a window, is what is full");
    const drained = once(s, "drain");
    peerSock.on("data", () => {});
    peerSock.resume();
    await drained;
    c.destroy();
    srv.close();
  });

  void it("resets a response whose body does not match content-length", async () => {
    const peer = await brokenPeer((id) =>
      Buffer.concat([f.headers(id, Buffer.concat([f.literal(":status", "200"), f.literal("content-length", "10")])), f.data(id, Buffer.from("short"), true)]),
    );
    const c = new RawH2Connection(net.connect({ port: peer.port, host: "127.0.0.1" }), { authority: "x" });
    await once(c, "connect");
    const r = await collect(c.request({ ":method": "GET", ":path": "/" }, true));
    assert.equal(r.rstCode, 1);
    assert.deepEqual(r.events, ["response", "data", "close"]);
    c.destroy();
    peer.close();
  });
});

void describe("raw HTTP/2 connection: where END_STREAM goes", () => {
  /** A peer that sends SETTINGS and keeps the frames the client sends after its preface. */
  async function recordingPeer(): Promise<{ port: number; frames(): f.ReceivedFrame[]; until(pred: (frames: f.ReceivedFrame[]) => boolean): Promise<void>; close(): void }> {
    const received: Buffer[] = [];
    const waiters: Array<() => void> = [];
    const srv = net.createServer((sock) => {
      sock.on("error", () => {});
      sock.write(f.settings());
      sock.on("data", (d: Buffer) => {
        received.push(d);
        for (const w of waiters.splice(0)) w();
      });
    });
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const frames = (): f.ReceivedFrame[] => {
      const wire = Buffer.concat(received);
      return wire.length < f.PREFACE.length ? [] : f.splitFrames(wire.subarray(f.PREFACE.length)).frames;
    };
    const until = async (pred: (frames: f.ReceivedFrame[]) => boolean): Promise<void> => {
      while (!pred(frames())) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    return { port: (srv.address() as AddressInfo).port, frames, until, close: () => srv.close() };
  }

  /** Runs `body` on a client connected to a fresh recording peer; both are closed whatever happens. */
  async function withPeer(body: (c: RawH2Connection, peer: Awaited<ReturnType<typeof recordingPeer>>) => Promise<void>): Promise<void> {
    const peer = await recordingPeer();
    const c = new RawH2Connection(net.connect({ port: peer.port, host: "127.0.0.1" }), { authority: "x" });
    try {
      await once(c, "remoteSettings");
      await body(c, peer);
    } finally {
      c.destroy();
      peer.close();
    }
  }

  const dataOf = (frames: f.ReceivedFrame[]): Array<[number, boolean]> =>
    frames.filter((fr) => fr.type === f.FrameType.DATA && fr.streamId === 1).map((fr) => [fr.payload.length, (fr.flags & f.Flag.END_STREAM) !== 0]);
  const ended = (frames: f.ReceivedFrame[]): boolean => dataOf(frames).some(([, end]) => end);

  for (const size of [39, 8 * 1024]) {
    // 8 KiB goes to the socket by reference (send-flow.ts), 39 bytes are copied: both can be amended.
    void it(`end() right after the last write() puts END_STREAM on its DATA frame (${size} B), not on an empty one`, async () => {
      await withPeer(async (c, peer) => {
        const s = c.request({ ":method": "POST", ":path": "/echo.Echo/Echo", "content-type": "application/grpc" }, false);
        s.on("error", () => {});
        s.write(Buffer.alloc(size, 1));
        s.end();
        await peer.until(ended);
        assert.deepEqual(dataOf(peer.frames()), [[size, true]]);
      });
    });
  }

  void it("end() after the last DATA frame left sends END_STREAM on an empty DATA frame", async () => {
    await withPeer(async (c, peer) => {
      const s = c.request({ ":method": "POST", ":path": "/upload" }, false);
      s.on("error", () => {});
      s.write(Buffer.from("first"));
      await peer.until((frames) => dataOf(frames).length === 1);
      s.end();
      await peer.until(ended);
      assert.deepEqual(dataOf(peer.frames()), [[5, false], [0, true]]);
    });
  });

  void it("two streams interleaved in one turn: each body's END_STREAM goes on its own last DATA frame", async () => {
    await withPeer(async (c, peer) => {
      const a = c.request({ ":method": "POST", ":path": "/a" }, false);
      const b = c.request({ ":method": "POST", ":path": "/b" }, false);
      a.write(Buffer.from("aa"));
      b.write(Buffer.from("bbb"));
      a.end();
      b.end();
      await peer.until((frames) => frames.filter((fr) => fr.type === f.FrameType.DATA && (fr.flags & f.Flag.END_STREAM) !== 0).length === 2);
      const data = peer.frames().filter((fr) => fr.type === f.FrameType.DATA).map((fr) => [fr.streamId, fr.payload.toString(), (fr.flags & f.Flag.END_STREAM) !== 0]);
      assert.deepEqual(data, [[1, "aa", true], [3, "bbb", true]]);
    });
  });
});
