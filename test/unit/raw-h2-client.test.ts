/**
 * The raw HTTP/2 client (test/bench/raw-h2) against a real node:http2 server on 127.0.0.1: bodies,
 * flow control with default 64 KiB windows both ways, trailers, 200 concurrent streams, and the
 * server's RST_STREAM and GOAWAY.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { RawH2Client, RawH2Error } from "../bench/raw-h2/raw-h2-client.js";

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  trailers: Record<string, string> | null;
}

function call(client: RawH2Client, headers: Record<string, string>, body: Buffer | null = null): Promise<Reply> {
  return new Promise((resolve, reject) => {
    client.request(headers, body, (err, status, h, b, trailers) => {
      if (err !== null) reject(err);
      else resolve({ status, headers: h, body: b, trailers });
    });
  });
}

function handler(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const path = headers[":path"];
  if (path === "/hello") {
    stream.respond({ ":status": 200, "content-type": "text/plain", "x-multi": ["a", "b"] });
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
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  } else if (path === "/slow") {
    // Answered by the GOAWAY test after the GOAWAY.
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

void describe("raw HTTP/2 client", () => {
  void it("GETs a body with response headers", async () => {
    const c = new RawH2Client({ port });
    await c.ready;
    const r = await call(c, { ":method": "GET", ":path": "/hello", "user-agent": "raw-h2-test" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "text/plain");
    assert.equal(r.headers["x-multi"], "a, b");
    assert.equal(r.body.toString(), "hello, raw h2");
    assert.equal(r.trailers, null);
    // A second request reuses HPACK's dynamic table entries from the first, both ways.
    const r2 = await call(c, { ":method": "GET", ":path": "/hello", "user-agent": "raw-h2-test" });
    assert.equal(r2.body.toString(), "hello, raw h2");
    assert.equal(r2.headers["content-type"], "text/plain");
    const closed = once(c, "close");
    c.close();
    await closed;
  });

  void it("echoes a 1 MiB POST through 64 KiB windows in both directions", async () => {
    const c = new RawH2Client({ port });
    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >>> 11)) & 0xff;
    const r = await call(c, { ":method": "POST", ":path": "/echo", "content-length": String(body.length) }, body);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, body.length);
    assert.ok(r.body.equals(body));
    c.close();
  });

  void it("receives a gRPC-style response with grpc-status trailers", async () => {
    const c = new RawH2Client({ port });
    const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, 34]), Buffer.from("\n\x20" + "x".repeat(32))]);
    const r = await call(
      c,
      { ":method": "POST", ":path": "/echo.Echo/Echo", "content-type": "application/grpc", te: "trailers" },
      msg,
    );
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "application/grpc");
    assert.ok(r.body.equals(msg));
    assert.deepEqual(r.trailers, { "grpc-status": "0", "grpc-message": "OK" });
    c.close();
  });

  void it("multiplexes 200 concurrent streams on one socket", async () => {
    const c = new RawH2Client({ port });
    await c.ready;
    const calls: Promise<Reply>[] = [];
    for (let i = 0; i < 200; i++) {
      calls.push(call(c, { ":method": "POST", ":path": "/echo" }, Buffer.from(`req-${i}`)));
    }
    // The server allows more than 100 concurrent streams, so all 200 are on the wire at once.
    assert.equal(c.activeStreams, 200);
    const replies = await Promise.all(calls);
    replies.forEach((r, i) => assert.equal(r.body.toString(), `req-${i}`));
    c.close();
  });

  void it("reassembles a response header block split over CONTINUATION frames", async () => {
    const c = new RawH2Client({ port });
    const r = await call(c, { ":method": "GET", ":path": "/big-headers" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-big"], "b".repeat(40 * 1024));
    assert.equal(r.body.toString(), "ok");
    c.close();
  });

  void it("answers the server's PING", async () => {
    const c = new RawH2Client({ port });
    await c.ready;
    const [session] = [...sessions].filter((s) => s.socket?.remotePort === c.socket.localPort);
    const acked = await new Promise<Buffer>((resolve, reject) =>
      session.ping(Buffer.from("rawh2!!!"), (err, _ms, payload) => (err ? reject(err) : resolve(payload))),
    );
    assert.equal(acked.toString(), "rawh2!!!");
    c.close();
  });

  void it("answers a protocol violation with GOAWAY(PROTOCOL_ERROR) and fails its streams", async () => {
    // node:http2 never misbehaves, so a bare TCP server plays a broken peer: SETTINGS, then DATA on
    // stream 0, which RFC 9113 §6.1 makes a connection error.
    const received: Buffer[] = [];
    const bad = net.createServer((sock) => {
      sock.on("data", (d: Buffer) => received.push(d));
      sock.on("error", () => {});
      const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
      const dataOnZero = Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41]);
      sock.write(Buffer.concat([settings, dataOnZero]));
    });
    bad.listen(0, "127.0.0.1");
    await once(bad, "listening");
    const c = new RawH2Client({ port: (bad.address() as AddressInfo).port });
    // Not events.once: it would reject on the 'error' event that the connection error also emits.
    const connErrors: unknown[] = [];
    c.on("error", (err) => connErrors.push(err));
    const closed = new Promise((resolve) => c.once("close", resolve));
    await assert.rejects(call(c, { ":method": "GET", ":path": "/" }), (err: unknown) => err instanceof RawH2Error && err.code === 1);
    await closed;
    const wire = Buffer.concat(received);
    // The last frame we sent is GOAWAY (type 7) with error code PROTOCOL_ERROR (1).
    const goaway = wire.subarray(wire.length - 17);
    assert.equal(goaway[3], 7);
    assert.equal(goaway.readUInt32BE(13), 1);
    assert.equal(connErrors.length, 1);
    bad.close();
  });

  void it("reports a server RST_STREAM as a stream error and keeps the connection", async () => {
    const c = new RawH2Client({ port });
    await assert.rejects(call(c, { ":method": "GET", ":path": "/reset" }), (err: unknown) => {
      assert.ok(err instanceof RawH2Error);
      assert.equal(err.code, http2.constants.NGHTTP2_REFUSED_STREAM);
      assert.equal(err.retryable, true);
      return true;
    });
    const r = await call(c, { ":method": "GET", ":path": "/hello" });
    assert.equal(r.status, 200);
    c.close();
  });

  void it("on GOAWAY finishes streams the server kept and refuses new ones", async () => {
    const c = new RawH2Client({ port });
    await c.ready;
    const kept = call(c, { ":method": "GET", ":path": "/slow" });
    while (slow.length === 0) await once(server, "stream");
    const stream = slow.pop()!;
    const goaway = once(c, "goaway");
    const closed = once(c, "close");
    stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
    const [code, lastId] = (await goaway) as [number, number];
    assert.equal(code, 0);
    assert.equal(lastId, 1);
    await assert.rejects(call(c, { ":method": "GET", ":path": "/hello" }), (err: unknown) => err instanceof RawH2Error && err.retryable);
    stream.respond({ ":status": 200 });
    stream.end("late but kept");
    const r = await kept;
    assert.equal(r.body.toString(), "late but kept");
    // With GOAWAY received and nothing left in flight, the client closes the socket itself.
    await closed;
  });
});
