import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import { test } from "node:test";
import { FrameType, FrameWriter } from "../../src/h2/frames.js";

/** What FrameConnection.flush() does with a turn: one write (corked for parts), then release(). */
function flush(w: FrameWriter, sock: net.Socket): void {
  const taken = w.take();
  if (Array.isArray(taken)) {
    sock.cork();
    for (const b of taken) sock.write(b);
    sock.uncork();
  } else {
    sock.write(taken);
  }
  w.release(sock.writableLength > 0);
}

/** A connected pair on 127.0.0.1: the server side collects everything it reads once resumed. */
async function pair(t: { after(fn: () => void): void }): Promise<{ client: net.Socket; server: net.Socket; received: Buffer[] }> {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as net.AddressInfo).port;
  const client = net.connect(port, "127.0.0.1");
  const [server] = (await once(srv, "connection")) as [net.Socket];
  await once(client, "connect");
  server.pause();
  const received: Buffer[] = [];
  server.on("data", (b: Buffer) => received.push(b));
  t.after(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  return { client, server, received };
}

function turn(w: FrameWriter, fill: number, payload: number): Buffer {
  // One DATA frame with a copied payload of `fill` bytes; returns what the wire must carry.
  const body = Buffer.alloc(payload, fill);
  w.header(payload, FrameType.DATA, 0, 1);
  w.bytes(body, 0, payload);
  const head = Buffer.from([(payload >>> 16) & 0xff, (payload >>> 8) & 0xff, payload & 0xff, FrameType.DATA, 0, 0, 0, 0, 1]);
  return Buffer.concat([head, body]);
}

void test("a turn the kernel took at once leaves the writer's buffer for the next turn", async (t) => {
  const { client } = await pair(t);
  const w = new FrameWriter(1024);
  const before = w.buf;
  turn(w, 1, 100);
  flush(w, client);
  assert.equal(client.writableLength, 0);
  assert.equal(w.buf, before, "the buffer was reused, not replaced");
});

void test("a turn the socket had to queue keeps its bytes: the next turn writes into a new buffer", async (t) => {
  const { client, server, received } = await pair(t);
  const w = new FrameWriter(1024);
  const expected: Buffer[] = [];
  // The peer does not read, so the kernel's buffers fill and node queues the rest of each write.
  let turns = 0;
  while (client.writableLength === 0 && turns < 10_000) {
    expected.push(turn(w, turns % 251, 60_000));
    flush(w, client);
    turns++;
  }
  assert.ok(client.writableLength > 0, "the socket queued a write");
  const queuedBuf = w.buf;
  // These turns would overwrite the queued bytes if the writer had kept its buffer.
  for (let i = 0; i < 5; i++) {
    expected.push(turn(w, 200 + i, 900));
    flush(w, client);
    assert.notEqual(w.buf, queuedBuf);
  }
  // A referenced payload between copied bytes goes out in order, too.
  const big = Buffer.alloc(10_000, 7);
  w.header(big.length, FrameType.DATA, 0, 3);
  w.ref(big, 0, big.length);
  w.u32(0xdeadbeef);
  expected.push(Buffer.concat([Buffer.from([0, 0x27, 0x10, FrameType.DATA, 0, 0, 0, 0, 3]), big, Buffer.from([0xde, 0xad, 0xbe, 0xef])]));
  flush(w, client);
  const want = Buffer.concat(expected);
  server.resume();
  while (received.reduce((n, b) => n + b.length, 0) < want.length) await once(server, "data");
  assert.ok(Buffer.concat(received).equals(want), "the peer read exactly the frames written, in order");
});
