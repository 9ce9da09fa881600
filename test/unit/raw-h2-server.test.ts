/**
 * Our HTTP/2 server connection (src/listener/raw-h2/) on real sockets, against node:http2's client and
 * a raw frame client (test/helpers/h2-frames.ts): exchanges, flow control both ways, trailers, the
 * start-after-the-read rule, the per-turn budget, resets, malformed and oversized requests, and
 * GOAWAY. The proxy's own tests run on it through the sidecar (test/integration/downstream-h2-codec.test.ts).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import net from "node:net";
import { after, describe, it } from "node:test";
import type { IncomingHttpHeaders } from "node:http2";
import { RawH2ServerConnection, type RawH2ServerOptions } from "../../src/listener/raw-h2/raw-h2-server-connection.js";
import type { RawH2ServerStream } from "../../src/listener/raw-h2/raw-h2-server-stream.js";
import * as f from "../helpers/h2-frames.js";
import { until } from "../helpers/util.js";

type Handler = (s: RawH2ServerStream, headers: IncomingHttpHeaders) => void;

interface TestServer {
  port: number;
  started: RawH2ServerStream[];
  dropped: number;
  conns: RawH2ServerConnection[];
  close(): void;
}

const DEFAULTS: RawH2ServerOptions = {
  maxConcurrentStreams: 100,
  streamWindow: 65_535,
  connectionWindow: 1024 * 1024,
  maxHeaderListSize: 8 * 1024,
  maxHeaderFields: 50,
  perTurn: 32,
};

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function serve(handler: Handler, opts: Partial<RawH2ServerOptions> = {}): Promise<TestServer> {
  const t: TestServer = { port: 0, started: [], dropped: 0, conns: [], close: () => server.close() };
  const server = net.createServer({ noDelay: true }, (sock) => {
    sock.on("error", () => undefined);
    const conn = new RawH2ServerConnection(sock, { ...DEFAULTS, ...opts }, {
      onStream: (s, h) => {
        t.started.push(s);
        handler(s, h);
      },
      onDropped: () => t.dropped++,
    });
    t.conns.push(conn);
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.port = (server.address() as net.AddressInfo).port;
  return t;
}

/** Reads a stream's whole body (resuming it), resolving at 'end'. */
function readBody(s: RawH2ServerStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on("data", (c: Buffer) => parts.push(Buffer.from(c)));
  // resume() delivers what waited at once, 'end' included.
  const ended = new Promise<Buffer>((resolve) => s.once("end", () => resolve(Buffer.concat(parts))));
  s.resume();
  return ended;
}

function h2get(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer) {
  const req = client.request(headers, { endStream: body === undefined });
  if (body !== undefined) req.end(body);
  const parts: Buffer[] = [];
  let trailers: IncomingHttpHeaders | undefined;
  req.on("data", (c: Buffer) => parts.push(c));
  req.on("trailers", (t) => (trailers = t));
  const response = once(req, "response").then(([h]) => h as IncomingHttpHeaders);
  const closed = once(req, "close").then(() => ({ body: Buffer.concat(parts), trailers, rstCode: req.rstCode }));
  return { req, response, closed };
}

/** Frames of `type` on `id` received so far. */
function framesOf(c: f.RawH2, type: number, id?: number): f.ReceivedFrame[] {
  return c.frames.filter((fr) => fr.type === type && (id === undefined || fr.streamId === id));
}

function rstCodeOf(c: f.RawH2, id: number): number | undefined {
  const fr = framesOf(c, f.FrameType.RST_STREAM, id)[0];
  return fr === undefined ? undefined : fr.payload.readUInt32BE(0);
}

const GET = (path: string, extra: ReadonlyArray<readonly [string, string]> = []): Buffer =>
  Buffer.concat([f.literal(":method", "GET"), f.literal(":scheme", "http"), f.literal(":path", path), f.literal(":authority", "x"), ...extra.map(([n, v]) => f.literal(n, v))]);

void describe("raw HTTP/2 server connection", { timeout: 30_000 }, () => {
  void it("serves node:http2's client: request body in, response body held back by a 16 KiB client window, then trailers", async () => {
    const big = Buffer.alloc(200_000, 7);
    const t = await serve((s) => {
      void readBody(s).then((reqBody) => {
        s.respond({ ":status": 200, "x-req-bytes": String(reqBody.length) }, false, true);
        s.on("wantTrailers", () => s.sendTrailers({ "x-done": "yes" }));
        // The client's window makes most of this wait in the send queue; trailers must follow it.
        s.write(big);
        s.end();
      });
    });
    const client = http2.connect(`http://127.0.0.1:${t.port}`, { settings: { initialWindowSize: 16_384 } });
    try {
      const ex = h2get(client, { ":method": "POST", ":path": "/up" }, Buffer.alloc(100_000, 1));
      const headers = await ex.response;
      const res = await ex.closed;
      assert.equal(headers[":status"], 200);
      assert.equal(headers["x-req-bytes"], "100000");
      assert.equal(res.body.length, big.length);
      assert.ok(res.body.equals(big));
      assert.equal(res.trailers?.["x-done"], "yes");
      assert.equal(res.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      client.close();
    }
  });

  void it("a paused stream credits no window: the client stops at one stream window, and resume() lets the rest in", async () => {
    let held: RawH2ServerStream | undefined;
    const t = await serve((s) => {
      held = s;
    });
    const client = http2.connect(`http://127.0.0.1:${t.port}`);
    try {
      const body = Buffer.alloc(1024 * 1024, 3);
      const ex = h2get(client, { ":method": "POST", ":path": "/slow" }, body);
      await until("the stream window to fill", 5000, () => held !== undefined && held.inbox.reduce((n, b) => n + b.length, 0) >= DEFAULTS.streamWindow);
      const s = held!;
      assert.equal(s.inbox.reduce((n, b) => n + b.length, 0), DEFAULTS.streamWindow, "more than one window arrived while paused");
      assert.ok(ex.req.writableLength > 0 || ex.req.bufferSize > 0, "the client was not held back");
      const got = await readBody(s);
      assert.equal(got.length, body.length);
      s.respond({ ":status": 204 }, true, false);
      await ex.closed;
    } finally {
      client.close();
    }
  });

  void it("streams reset in the read that opened them are dropped, never started", async () => {
    const t = await serve((s) => s.respond({ ":status": 200 }, true, false));
    const c = await f.RawH2.connect(t.port);
    try {
      const parts: Buffer[] = [];
      for (let i = 0; i < 50; i++) parts.push(f.headers(2 * i + 1, GET("/x")), f.rstStream(2 * i + 1, 8));
      parts.push(f.headers(101, GET("/kept"), { endStream: true }));
      c.write(Buffer.concat(parts));
      await until("the kept stream's response", 5000, () => framesOf(c, f.FrameType.HEADERS, 101).length === 1);
      assert.equal(t.started.length, 1);
      assert.equal(t.dropped, 50);
    } finally {
      c.destroy();
    }
  });

  void it("at most perTurn streams of one read start in one event-loop turn", async () => {
    let firstTurn = -1;
    const t = await serve((s) => {
      if (firstTurn < 0) process.nextTick(() => (firstTurn = t.started.length));
      s.respond({ ":status": 200 }, true, false);
    });
    const c = await f.RawH2.connect(t.port);
    try {
      const parts: Buffer[] = [];
      for (let i = 0; i < 80; i++) parts.push(f.headers(2 * i + 1, GET("/n"), { endStream: true }));
      c.write(Buffer.concat(parts));
      await until("all 80 responses", 5000, () => framesOf(c, f.FrameType.HEADERS).length === 80);
      assert.equal(firstTurn, DEFAULTS.perTurn);
      assert.equal(t.started.length, 80);
    } finally {
      c.destroy();
    }
  });

  void it("rapid reset: past the burst of client resets the connection gets GOAWAY ENHANCE_YOUR_CALM", async () => {
    const t = await serve(() => undefined);
    const c = await f.RawH2.connect(t.port);
    c.keepFrames = false;
    try {
      let id = 1;
      for (let batch = 0; batch < 30 && c.goawayCode === undefined && !c.closed; batch++) {
        const parts: Buffer[] = [];
        // Each pair in its own read-sized slice, so the streams start (only started ones spend the budget).
        for (let i = 0; i < 50; i++, id += 2) parts.push(f.headers(id, GET("/r")), f.rstStream(id, 8));
        await c.send(Buffer.concat(parts));
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(await c.waitCutOff(3000), "never cut off");
      assert.equal(c.goawayCode, f.ErrorCode.ENHANCE_YOUR_CALM);
    } finally {
      c.destroy();
    }
  });

  void it("a client reset of a started stream closes it as aborted, with no 'end'", async () => {
    const t = await serve(() => undefined);
    const c = await f.RawH2.connect(t.port);
    try {
      c.write(Buffer.concat([f.headers(1, GET("/hold")), f.data(1, Buffer.from("abc"))]));
      await until("the stream to start", 5000, () => t.started.length === 1);
      const s = t.started[0];
      const events: string[] = [];
      s.on("end", () => events.push("end"));
      const closed = once(s, "close");
      c.write(f.rstStream(1, 8));
      await closed;
      assert.deepEqual(events, []);
      assert.equal(s.aborted, true);
      assert.equal(s.rstCode, 8);
    } finally {
      c.destroy();
    }
  });

  void it("a complete response while the request body is open is followed by RST_STREAM(NO_ERROR)", async () => {
    const t = await serve((s) => s.respond({ ":status": 403 }, true, false));
    const c = await f.RawH2.connect(t.port);
    try {
      c.write(f.headers(1, GET("/upload")));
      await until("RST_STREAM", 5000, () => rstCodeOf(c, 1) !== undefined);
      const h = framesOf(c, f.FrameType.HEADERS, 1);
      assert.equal(h.length, 1);
      assert.ok((h[0].flags & f.Flag.END_STREAM) !== 0);
      assert.equal(rstCodeOf(c, 1), f.ErrorCode.NO_ERROR);
      // DATA the client sent before it saw the reset is ignored (§5.4.2), not answered with STREAM_CLOSED.
      c.write(f.data(1, Buffer.from("late"), true));
      c.write(f.ping(Buffer.from("12345678")));
      await until("PING ACK", 5000, () => framesOf(c, f.FrameType.PING).length === 1);
      assert.equal(framesOf(c, f.FrameType.RST_STREAM, 1).length, 1);
    } finally {
      c.destroy();
    }
  });

  void it("a response body ended right after its last write goes out as one DATA frame carrying END_STREAM", async () => {
    const t = await serve((s) => {
      s.respond({ ":status": 200 }, false, false);
      s.write(Buffer.from("hello"));
      s.end();
    });
    const c = await f.RawH2.connect(t.port);
    try {
      c.write(f.headers(1, GET("/"), { endStream: true }));
      await until("END_STREAM", 5000, () => framesOf(c, f.FrameType.DATA, 1).some((fr) => (fr.flags & f.Flag.END_STREAM) !== 0));
      const data = framesOf(c, f.FrameType.DATA, 1).map((fr) => [fr.payload.toString(), (fr.flags & f.Flag.END_STREAM) !== 0]);
      assert.deepEqual(data, [["hello", true]]);
    } finally {
      c.destroy();
    }
  });

  void it("malformed requests are reset with PROTOCOL_ERROR and never start", async () => {
    const t = await serve((s) => s.respond({ ":status": 200 }, true, false));
    const c = await f.RawH2.connect(t.port);
    try {
      const blocks: Buffer[] = [
        GET("/a", [["X-Upper", "1"]]),
        Buffer.concat([f.literal(":method", "GET"), f.literal(":scheme", "http"), f.literal(":authority", "x")]),
        GET("/c", [["connection", "keep-alive"]]),
        GET("/d", [["te", "gzip"]]),
        Buffer.concat([f.literal("accept", "*/*"), f.literal(":method", "GET"), f.literal(":scheme", "http"), f.literal(":path", "/e")]),
        GET("/f", [[":status", "200"]]),
        Buffer.concat([f.literal(":method", "CONNECT"), f.literal(":authority", "x:443")]),
      ];
      blocks.forEach((b, i) => c.write(f.headers(2 * i + 1, b, { endStream: true })));
      // content-length 3 with 5 bytes of body.
      const cl = 2 * blocks.length + 1;
      c.write(Buffer.concat([f.headers(cl, GET("/cl", [["content-length", "3"]])), f.data(cl, Buffer.from("hello"), true)]));
      await until("every reset", 5000, () => framesOf(c, f.FrameType.RST_STREAM).length === blocks.length + 1);
      for (let i = 0; i <= blocks.length; i++) assert.equal(rstCodeOf(c, 2 * i + 1), f.ErrorCode.PROTOCOL_ERROR, `stream ${2 * i + 1}`);
      // The content-length one was reset in the read that opened it, so it never started either.
      assert.equal(t.started.length, 0);
      assert.equal(t.dropped, 1);
      assert.equal(c.goawayCode, undefined);
    } finally {
      c.destroy();
    }
  });

  void it("a header list over the limit, or with too many fields, is refused with ENHANCE_YOUR_CALM; the connection goes on", async () => {
    const t = await serve((s) => s.respond({ ":status": 200 }, true, false));
    const c = await f.RawH2.connect(t.port);
    try {
      c.write(f.headers(1, GET("/big", [["x-big", "a".repeat(10_000)]]), { endStream: true }));
      c.write(f.headers(3, GET("/many", Array.from({ length: 60 }, (_, i) => [`x-h${i}`, "v"] as const)), { endStream: true }));
      c.write(f.headers(5, GET("/ok"), { endStream: true }));
      await until("the third stream's response", 5000, () => framesOf(c, f.FrameType.HEADERS, 5).length === 1);
      assert.equal(rstCodeOf(c, 1), f.ErrorCode.ENHANCE_YOUR_CALM);
      assert.equal(rstCodeOf(c, 3), f.ErrorCode.ENHANCE_YOUR_CALM);
      assert.deepEqual(t.started.map((s) => s.id), [5]);
    } finally {
      c.destroy();
    }
  });

  void it("streams beyond MAX_CONCURRENT_STREAMS are refused; the advertised SETTINGS say so", async () => {
    const t = await serve(() => undefined, { maxConcurrentStreams: 2 });
    const c = await f.RawH2.connect(t.port);
    try {
      for (const id of [1, 3, 5]) c.write(f.headers(id, GET("/hold"), { endStream: true }));
      await until("a reset", 5000, () => rstCodeOf(c, 5) !== undefined);
      assert.equal(rstCodeOf(c, 5), f.ErrorCode.REFUSED_STREAM);
      assert.equal(t.started.length, 2);
      const s = framesOf(c, f.FrameType.SETTINGS).find((fr) => (fr.flags & f.Flag.ACK) === 0)!;
      const advertised = new Map<number, number>();
      for (let p = 0; p < s.payload.length; p += 6) advertised.set(s.payload.readUInt16BE(p), s.payload.readUInt32BE(p + 2));
      assert.equal(advertised.get(f.SettingId.MAX_CONCURRENT_STREAMS), 2);
      assert.equal(advertised.get(f.SettingId.INITIAL_WINDOW_SIZE), DEFAULTS.streamWindow);
      assert.equal(advertised.get(f.SettingId.MAX_HEADER_LIST_SIZE), DEFAULTS.maxHeaderListSize);
    } finally {
      c.destroy();
    }
  });

  void it("close(): GOAWAY naming the last stream, the stream in flight finishes, later streams are refused, then the socket ends", async () => {
    const t = await serve(() => undefined);
    const c = await f.RawH2.connect(t.port);
    try {
      c.write(f.headers(1, GET("/inflight"), { endStream: true }));
      await until("the stream to start", 5000, () => t.started.length === 1);
      t.conns[0].close();
      await until("GOAWAY", 5000, () => c.goawayCode !== undefined);
      const g = framesOf(c, f.FrameType.GOAWAY)[0];
      assert.equal(g.payload.readUInt32BE(0) & 0x7fffffff, 1);
      assert.equal(c.goawayCode, f.ErrorCode.NO_ERROR);
      c.write(f.headers(3, GET("/late"), { endStream: true }));
      await until("the late stream's reset", 5000, () => rstCodeOf(c, 3) !== undefined);
      assert.equal(rstCodeOf(c, 3), f.ErrorCode.REFUSED_STREAM);
      assert.equal(c.closed, false);
      t.started[0].respond({ ":status": 200 }, true, false);
      assert.ok(await c.waitClosed(5000), "the socket did not end after the last stream");
      assert.equal(framesOf(c, f.FrameType.HEADERS, 1).length, 1);
    } finally {
      c.destroy();
    }
  });

  void it("a client that does not read its responses is not read either: queued bytes stay bounded until it reads again", async () => {
    // x-request-id is never indexed, so each response carries its 8 KiB again (48 MiB for 6,000: more
    // than the kernel's socket buffers take).
    const t = await serve((s) => s.respond({ ":status": 200, "x-request-id": "r".repeat(8000) }, true, false), { maxConcurrentStreams: 10_000 });
    const c = await f.RawH2.connect(t.port);
    c.keepFrames = false;
    try {
      c.sock.pause();
      const parts: Buffer[] = [];
      for (let i = 0; i < 6000; i++) parts.push(f.headers(2 * i + 1, GET("/r"), { endStream: true }));
      c.write(Buffer.concat(parts));
      await until("the server to stop reading", 10_000, () => t.conns[0]?.socket.isPaused() === true);
      const sock = t.conns[0].socket;
      assert.ok(sock.writableLength < 6 * 1024 * 1024, `${sock.writableLength} bytes queued`);
      assert.ok(t.started.length < 6000, "every request was read while the client read nothing");
      c.sock.resume();
      await until("all 6,000 responses", 20_000, () => (c.counts.get(f.FrameType.HEADERS) ?? 0) === 6000);
      assert.equal(t.started.length, 6000);
    } finally {
      c.destroy();
    }
  });

  void it("a bad preface or a first frame other than SETTINGS ends the connection with PROTOCOL_ERROR", async () => {
    const t = await serve(() => undefined);
    const bad = await f.RawH2.connect(t.port, false);
    const noSettings = await f.RawH2.connect(t.port, false);
    try {
      bad.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      noSettings.write(Buffer.concat([f.PREFACE, f.ping()]));
      assert.ok(await bad.waitClosed(5000));
      assert.ok(await noSettings.waitClosed(5000));
      assert.equal(bad.goawayCode, f.ErrorCode.PROTOCOL_ERROR);
      assert.equal(noSettings.goawayCode, f.ErrorCode.PROTOCOL_ERROR);
    } finally {
      bad.destroy();
      noSettings.destroy();
    }
  });
});
