/**
 * A tiny hand-written HTTP/2 frame writer and reader (RFC 9113) with literal HPACK (RFC 7541), for the
 * abuse tests: an attacker must be able to send what no well-behaved client library would (reset
 * storms, endless CONTINUATION, dynamic-table bombs), so nothing here goes through node:http2.
 */
import * as net from "node:net";
import { deferred, withTimeout } from "./util.js";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Frame types. */
export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

/** Frame flags. */
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** SETTINGS identifiers (RFC 9113 §6.5.2). */
export const SettingId = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

/** Error codes (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  CONNECT_ERROR: 10,
  ENHANCE_YOUR_CALM: 11,
} as const;

/** One frame: 9-byte header then payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h.writeUInt8(type, 3);
  h.writeUInt8(flags, 4);
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** SETTINGS with (id, value) pairs; `ack` sends the empty acknowledgement. */
/** A frame whose 32-bit stream field is written as given, reserved bit included (RFC 9113 §4.1). */
export function frameRawId(type: number, flags: number, streamField: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const f = frame(type, flags, 0, payload);
  f.writeUInt32BE(streamField >>> 0, 5);
  return f;
}

/** A PADDED payload (§6.1): pad-length byte, `body`, then `padLength` zero bytes; `declared` lies about it. */
export function padded(body: Buffer, padLength: number, declared = padLength): Buffer {
  return Buffer.concat([Buffer.from([declared]), body, Buffer.alloc(padLength)]);
}

/** PRIORITY frame (§6.3): exclusive bit clear, `dependsOn`, `weight` (0..255). */
export function priority(streamId: number, dependsOn = 0, weight = 15): Buffer {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(dependsOn & 0x7fffffff, 0);
  p.writeUInt8(weight, 4);
  return frame(FrameType.PRIORITY, 0, streamId, p);
}

/** PUSH_PROMISE (§6.6) on `streamId` promising `promisedId`, with a complete header block. */
export function pushPromise(streamId: number, promisedId: number, block: Buffer): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(promisedId & 0x7fffffff, 0);
  return frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, streamId, Buffer.concat([p, block]));
}

export function settings(pairs: ReadonlyArray<readonly [number, number]> = [], ack = false): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, ack ? Buffer.alloc(0) : p);
}

export function ping(data = Buffer.alloc(8), ack = false): Buffer {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

export function rstStream(streamId: number, code = 8 /* CANCEL */): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, p);
}

export function goaway(lastStreamId: number, code = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(code, 4);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, p);
}

export function data(streamId: number, body: Buffer, endStream = false): Buffer {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, body);
}

/** HEADERS carrying a header block fragment; END_HEADERS unless more CONTINUATION frames follow. */
export function headers(streamId: number, block: Buffer, opts: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  const flags = (opts.endStream === true ? Flag.END_STREAM : 0) | (opts.endHeaders === false ? 0 : Flag.END_HEADERS);
  return frame(FrameType.HEADERS, flags, streamId, block);
}

export function continuation(streamId: number, block: Buffer, endHeaders = false): Buffer {
  return frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, block);
}

// ------------------------------------------------------------------------------------------------ HPACK

/** HPACK integer with an N-bit prefix, the first byte's high bits set to `mask`. */
export function hpackInt(value: number, prefixBits: number, mask: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([mask | value]);
  const out = [mask | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  return Buffer.concat([hpackInt(b.length, 7, 0x00), b]);
}

/** Literal header field without indexing, new name (RFC 7541 6.2.2). */
export function literal(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** Literal header field with incremental indexing, new name: inserts into the dynamic table (6.2.1). */
export function literalIndexed(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** Indexed header field (6.1): 1..61 static table, 62.. dynamic table (62 = newest entry). */
export function indexed(index: number): Buffer {
  return hpackInt(index, 7, 0x80);
}

/** Literal without indexing, new name, whose value is already Huffman-coded (H bit set, RFC 7541 §5.2). */
export function literalHuffman(name: string, huffmanValue: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackInt(huffmanValue.length, 7, 0x80), huffmanValue]);
}

/** Dynamic table size update (RFC 7541 §6.3). */
export function tableSizeUpdate(size: number): Buffer {
  return hpackInt(size, 5, 0x20);
}

/** A response header block, all literals without indexing: `:status` first, then `extra` in order. */
export function responseBlock(status: number | string, extra: ReadonlyArray<readonly [string, string]> = []): Buffer {
  return Buffer.concat([literal(":status", String(status)), ...extra.map(([n, v]) => literal(n, v))]);
}

/** The header block of a gRPC-ish request on `path` to authority `authority`, all literals. */
export function requestBlock(path: string, extra: ReadonlyArray<readonly [string, string]> = [], authority = "localhost"): Buffer {
  return Buffer.concat([
    literal(":method", "POST"),
    literal(":scheme", "http"),
    literal(":path", path),
    literal(":authority", authority),
    literal("content-type", "application/grpc"),
    literal("te", "trailers"),
    ...extra.map(([n, v]) => literal(n, v)),
  ]);
}

// ----------------------------------------------------------------------------------------------- reader

/** A frame as received. */
export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Cuts whole frames off the front of `buf`; `rest` is the incomplete tail. */
export function splitFrames(buf: Buffer): { frames: ReceivedFrame[]; rest: Buffer } {
  const frames: ReceivedFrame[] = [];
  let off = 0;
  while (buf.length - off >= 9) {
    const len = buf.readUIntBE(off, 3);
    if (buf.length - off < 9 + len) break;
    frames.push({
      type: buf.readUInt8(off + 3),
      flags: buf.readUInt8(off + 4),
      streamId: buf.readUInt32BE(off + 5) & 0x7fffffff,
      payload: buf.subarray(off + 9, off + 9 + len),
    });
    off += 9 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/**
 * A raw HTTP/2 client connection: sends bytes as given, parses what comes back, and records the
 * peer's GOAWAY (error code), RST_STREAMs and the connection's close.
 */
export class RawH2 {
  readonly frames: ReceivedFrame[] = [];
  /** GOAWAY error code from the peer, if one came. */
  goawayCode: number | undefined;
  rstCount = 0;
  /** Count of frames by type. */
  readonly counts = new Map<number, number>();
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private readonly closedD = deferred<void>();
  /** Whether to keep every frame (off for floods: only counts are kept). */
  keepFrames = true;

  private constructor(readonly sock: net.Socket) {
    sock.on("data", (b: Buffer) => this.onData(b));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      this.closed = true;
      this.closedD.resolve();
    });
  }

  /** Connects to 127.0.0.1:port; with `preface` sends the client preface and an empty SETTINGS. */
  static async connect(port: number, preface = true): Promise<RawH2> {
    const sock = net.connect({ host: "127.0.0.1", port, noDelay: true });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        sock.once("connect", resolve);
        sock.once("error", reject);
      }),
      3000,
      `raw h2 connect to ${port}`,
    );
    const c = new RawH2(sock);
    if (preface) c.write(Buffer.concat([PREFACE, settings()]));
    return c;
  }

  /** Writes; resolves when the socket can take more (so floods respect the kernel buffer). */
  async send(b: Buffer): Promise<void> {
    if (this.closed || this.sock.destroyed) return;
    if (!this.sock.write(b)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.sock.off("drain", done);
          this.sock.off("close", done);
          resolve();
        };
        this.sock.once("drain", done);
        this.sock.once("close", done);
      });
    }
  }

  write(b: Buffer): void {
    if (!this.closed && !this.sock.destroyed) this.sock.write(b);
  }

  /** Resolves when the connection is closed by either side; false after `ms` if still open. */
  async waitClosed(ms: number): Promise<boolean> {
    return withTimeout(this.closedD.promise, ms, "raw h2 close").then(
      () => true,
      () => false,
    );
  }

  /** Resolves true once a GOAWAY arrived or the connection closed, false after `ms`. */
  async waitCutOff(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (this.goawayCode !== undefined || this.closed) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.goawayCode !== undefined || this.closed;
  }

  destroy(): void {
    this.sock.destroy();
  }

  private onData(b: Buffer): void {
    this.buf = this.buf.length === 0 ? b : Buffer.concat([this.buf, b]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: ReceivedFrame = {
        type: this.buf.readUInt8(3),
        flags: this.buf.readUInt8(4),
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.buf.subarray(9, 9 + len),
      };
      this.buf = this.buf.subarray(9 + len);
      this.counts.set(f.type, (this.counts.get(f.type) ?? 0) + 1);
      if (f.type === FrameType.GOAWAY && f.payload.length >= 8) this.goawayCode = f.payload.readUInt32BE(4);
      if (f.type === FrameType.RST_STREAM) this.rstCount++;
      // Acknowledge the server's SETTINGS, as a real client must, so only the attack is abnormal.
      if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) this.write(settings([], true));
      if (this.keepFrames) this.frames.push(f);
    }
  }
}
