/**
 * The receive side our HTTP/2 client and server share (src/h2/receive-flow.ts), where the two copies it
 * replaced differed: no stream WINDOW_UPDATE may follow our own RST_STREAM (RFC 9113 §5.1), also when
 * the consumer resets the stream from inside 'data' with a chunk that crosses half the window (the
 * client used to credit such a stream anyway; the server never did).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { it } from "node:test";
import { RawH2Connection } from "../../src/upstream/raw-h2/raw-h2-connection.js";
import * as f from "../helpers/h2-frames.js";

/** A TCP peer that answers the client's first request with HEADERS and one DATA frame of `bodyBytes`. */
async function answeringPeer(bodyBytes: number): Promise<{ port: number; frames(): f.ReceivedFrame[]; until(pred: (fr: f.ReceivedFrame[]) => boolean): Promise<void>; close(): void }> {
  const received: Buffer[] = [];
  const waiters: Array<() => void> = [];
  const frames = (): f.ReceivedFrame[] => {
    const wire = Buffer.concat(received);
    return wire.length < f.PREFACE.length ? [] : f.splitFrames(wire.subarray(f.PREFACE.length)).frames;
  };
  const srv = net.createServer((sock) => {
    let answered = false;
    sock.on("error", () => {});
    sock.write(f.settings());
    sock.on("data", (d: Buffer) => {
      received.push(d);
      if (!answered && frames().some((fr) => fr.type === f.FrameType.HEADERS && fr.streamId === 1)) {
        answered = true;
        sock.write(Buffer.concat([f.headers(1, f.responseBlock(200)), f.data(1, Buffer.alloc(bodyBytes, 0x61))]));
      }
      for (const w of waiters.splice(0)) w();
    });
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const until = async (pred: (fr: f.ReceivedFrame[]) => boolean): Promise<void> => {
    while (!pred(frames())) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { port: (srv.address() as AddressInfo).port, frames, until, close: () => srv.close() };
}

void it("a client stream reset inside 'data' is not credited after its RST_STREAM", { timeout: 10_000 }, async (t) => {
  // A 12 000-byte chunk against a 20 000-byte stream window: taking it owes the peer a WINDOW_UPDATE.
  const peer = await answeringPeer(12_000);
  const c = new RawH2Connection(net.connect({ port: peer.port, host: "127.0.0.1" }), { authority: "x", streamWindow: 20_000 });
  t.after(() => {
    c.destroy();
    peer.close();
  });
  await once(c, "connect");
  const s = c.request({ ":method": "GET", ":path": "/" }, true);
  let chunks = 0;
  s.on("data", () => {
    chunks++;
    s.close(f.ErrorCode.CANCEL);
  });
  await once(s, "close");
  assert.equal(chunks, 1);
  // Our PING goes out after whatever the reset queued: once the peer has it, it has everything before it.
  c.ping();
  await peer.until((fr) => fr.some((x) => x.type === f.FrameType.PING && (x.flags & f.Flag.ACK) === 0));
  const sent = peer.frames().filter((x) => x.streamId === 1);
  const rst = sent.findIndex((x) => x.type === f.FrameType.RST_STREAM);
  assert.ok(rst >= 0, "the client reset the stream");
  assert.equal(sent[rst].payload.readUInt32BE(0), f.ErrorCode.CANCEL);
  assert.deepEqual(
    sent.slice(rst + 1).map((x) => x.type),
    [],
    "no frame (WINDOW_UPDATE) on the stream after its RST_STREAM",
  );
  assert.equal(
    sent.some((x) => x.type === f.FrameType.WINDOW_UPDATE),
    false,
  );
});
