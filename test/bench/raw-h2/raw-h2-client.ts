/**
 * A minimal HTTP/2 client over one plain TCP socket (h2c with prior knowledge), written to measure
 * what node:http2's client side costs compared with speaking frames directly (issue #9). It is a
 * benchmark experiment, not used by the proxy. Limits are listed in docs/raw-h2-client.md.
 *
 * Allocation-light by design: no per-request closures (the caller passes one callback plus a
 * context value), stream records are pooled, and all frames of one event-loop turn leave in one
 * socket write.
 */
import net from "node:net";
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FrameType,
  MAX_WINDOW,
  PREFACE,
  Setting,
} from "./frames.js";
import { FrameConnection } from "./connection.js";
import { HpackDecoder, HpackEncoder, HpackError } from "./hpack.js";
import { EMPTY, NO_HEADERS, RawH2Error, Stream, type RawH2Options, type ResponseCallback } from "./types.js";

export { RawH2Error, type RawH2Options, type ResponseCallback } from "./types.js";

export class RawH2Client extends FrameConnection {
  readonly socket: net.Socket;
  /** Resolves on the server's first SETTINGS frame. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private readonly enc = new HpackEncoder();
  private readonly dec = new HpackDecoder();
  private readonly streams = new Map<number, Stream>();
  private readonly pool: Stream[] = [];
  private readonly pending: Stream[] = [];
  private blocked: Stream[] = [];
  private nextId = 1;
  // Peer settings; until its SETTINGS arrive the RFC defaults apply.
  // 100 is only a guess until the first SETTINGS, which starts from "unlimited" (§6.5.2).
  private peerMaxConcurrent = 100;
  private settingsSeen = false;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private connSendWindow = DEFAULT_WINDOW;
  private readonly localWindow: number;
  private connRecvUnacked = 0;
  private goawayReceived = false;
  private readonly authority: string;

  constructor(opts: RawH2Options) {
    super();
    const host = opts.host ?? "127.0.0.1";
    this.authority = `${host}:${opts.port}`;
    this.localWindow = opts.windowSize ?? DEFAULT_WINDOW;
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.socket = net.connect({ host, port: opts.port, noDelay: true });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (err) => this.fail(new RawH2Error(`socket: ${err.message}`, -1)));
    this.socket.on("close", () => {
      this.fail(new RawH2Error("connection closed", -1));
      this.emit("close");
    });
    this.writePreface();
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /**
   * Starts a request. `headers` must carry :method and :path; :scheme and :authority default to the
   * connection's and are added to `headers` itself, so a reused headers object pays for that once.
   * `cb` gets the whole response once END_STREAM arrives, or an error.
   */
  request(headers: Record<string, string>, body: Buffer | null, cb: ResponseCallback, ctx: unknown = null): void {
    if (this.closed || this.goawayReceived) {
      process.nextTick(cb, new RawH2Error("connection is closing", -1, true), 0, NO_HEADERS, EMPTY, null, ctx);
      return;
    }
    const s = this.pool.pop() ?? new Stream();
    s.cb = cb;
    s.ctx = ctx;
    s.reqHeaders = headers;
    s.body = body ?? EMPTY;
    if (headers[":scheme"] === undefined) headers[":scheme"] = "http";
    if (headers[":authority"] === undefined) headers[":authority"] = this.authority;
    if (this.streams.size >= this.peerMaxConcurrent) this.pending.push(s);
    else this.start(s);
  }

  /** Graceful: GOAWAY(NO_ERROR), then the socket ends when in-flight streams finish. */
  close(): void {
    if (this.closed) return;
    this.goawayReceived = true;
    this.writeGoaway(ErrorCode.NO_ERROR);
    if (this.streams.size === 0) this.endSocket();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private writePreface(): void {
    const o = this.out;
    o.bytes(PREFACE, 0, PREFACE.length);
    o.header(18, FrameType.SETTINGS, 0, 0);
    o.u16(Setting.ENABLE_PUSH);
    o.u32(0);
    o.u16(Setting.INITIAL_WINDOW_SIZE);
    o.u32(this.localWindow);
    o.u16(Setting.HEADER_TABLE_SIZE);
    o.u32(4096);
    if (this.localWindow > DEFAULT_WINDOW) {
      o.header(4, FrameType.WINDOW_UPDATE, 0, 0);
      o.u32(this.localWindow - DEFAULT_WINDOW);
    }
    this.scheduleFlush();
  }

  private start(s: Stream): void {
    const id = this.nextId;
    this.nextId += 2;
    s.id = id;
    s.sendWindow = this.peerInitialWindow;
    s.recvWindow = this.localWindow;
    this.streams.set(id, s);
    const block = this.enc.encode(s.reqHeaders!);
    s.reqHeaders = null;
    const endStream = s.body.length === 0;
    const o = this.out;
    const max = this.peerMaxFrame;
    if (block.length <= max) {
      o.header(block.length, FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), id);
      o.bytes(block, 0, block.length);
    } else {
      o.header(max, FrameType.HEADERS, endStream ? Flag.END_STREAM : 0, id);
      o.bytes(block, 0, max);
      for (let off = max; off < block.length; off += max) {
        const end = Math.min(block.length, off + max);
        o.header(end - off, FrameType.CONTINUATION, end === block.length ? Flag.END_HEADERS : 0, id);
        o.bytes(block, off, end);
      }
    }
    if (!endStream) this.sendData(s);
    this.scheduleFlush();
  }

  /** Sends as much of the body as both windows allow; the rest waits for WINDOW_UPDATE. */
  private sendData(s: Stream): boolean {
    const len = s.body.length;
    while (s.sent < len) {
      const n = Math.min(len - s.sent, this.peerMaxFrame, s.sendWindow, this.connSendWindow);
      if (n <= 0) {
        this.scheduleFlush();
        if (!s.blocked) {
          s.blocked = true;
          this.blocked.push(s);
        }
        return false;
      }
      const last = s.sent + n === len;
      this.out.header(n, FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
      this.out.bytes(s.body, s.sent, s.sent + n);
      s.sent += n;
      s.sendWindow -= n;
      this.connSendWindow -= n;
    }
    this.scheduleFlush();
    return true;
  }

  private pumpBlocked(): void {
    if (this.blocked.length === 0) return;
    const list = this.blocked;
    this.blocked = [];
    for (const s of list) {
      s.blocked = false;
      // A stream finished or reset while blocked has id 0 or a new owner; skip it.
      if (this.streams.get(s.id) !== s) continue;
      this.sendData(s);
    }
  }

  protected onHeaderBlock(id: number, block: Buffer, endStream: boolean): void {
    const s = this.streams.get(id);
    const target: Record<string, string> = {};
    let status: number;
    try {
      status = this.dec.decode(block, target);
    } catch (err) {
      if (err instanceof HpackError) return this.connError(ErrorCode.COMPRESSION_ERROR, err.message);
      throw err;
    }
    if (s === undefined) {
      // Even ids would be pushes (disabled); odd ids we never opened are a protocol violation. Blocks
      // for streams we already reset are legal and just dropped (decoded above for the table's sake).
      if ((id & 1) === 0 || id >= this.nextId) this.connError(ErrorCode.PROTOCOL_ERROR, "HEADERS for an unopened stream");
      return;
    }
    if (s.status === 0) {
      if (status >= 100 && status < 200) {
        if (endStream) this.streamError(s, ErrorCode.PROTOCOL_ERROR, "1xx with END_STREAM");
        return;
      }
      if (status < 200 || status > 999) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "missing or bad :status");
      s.status = status;
      s.headers = target;
    } else {
      if (!endStream) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM");
      s.trailers = target;
    }
    if (endStream) this.complete(s);
  }

  protected onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    const flowLen = end - start;
    // The whole frame (padding included) counts against the connection window even when the stream
    // is gone, or the peer's view of the window drifts from ours.
    this.connRecvUnacked += flowLen;
    if (this.connRecvUnacked > this.localWindow) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded");
    if (this.connRecvUnacked >= this.localWindow >>> 1) {
      this.out.header(4, FrameType.WINDOW_UPDATE, 0, 0);
      this.out.u32(this.connRecvUnacked);
      this.connRecvUnacked = 0;
      this.scheduleFlush();
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id >= this.nextId) this.connError(ErrorCode.PROTOCOL_ERROR, "DATA for an unopened stream");
      return;
    }
    if (s.status === 0) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "DATA before response HEADERS");
    s.recvWindow -= flowLen;
    if (s.recvWindow < 0) return this.streamError(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeded");
    let e = end;
    let b = start;
    if ((flags & Flag.PADDED) !== 0) {
      e -= buf[b++];
      if (b > e) return this.connError(ErrorCode.PROTOCOL_ERROR, "DATA padding exceeds payload");
    }
    if (e > b) {
      s.chunks.push(buf.subarray(b, e));
      s.bodyLen += e - b;
    }
    if ((flags & Flag.END_STREAM) !== 0) return this.complete(s);
    s.recvUnacked += flowLen;
    if (s.recvUnacked >= this.localWindow >>> 1) {
      this.out.header(4, FrameType.WINDOW_UPDATE, 0, id);
      this.out.u32(s.recvUnacked);
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
      this.scheduleFlush();
    }
  }

  protected onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & Flag.ACK) !== 0) {
      if (end !== start) this.connError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with payload");
      return;
    }
    if ((end - start) % 6 !== 0) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length");
    if (!this.settingsSeen) {
      this.settingsSeen = true;
      this.peerMaxConcurrent = 0xffff_ffff;
    }
    for (let p = start; p < end; p += 6) {
      const key = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      switch (key) {
        case Setting.HEADER_TABLE_SIZE:
          this.enc.setMaxTableSize(value);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
          // A change applies retroactively to every open stream's send window (§6.9.2).
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) s.sendWindow += delta;
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 0xff_ffff) return this.connError(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range");
          this.peerMaxFrame = value;
          break;
        default:
          break;
      }
    }
    this.out.header(0, FrameType.SETTINGS, Flag.ACK, 0);
    this.scheduleFlush();
    this.resolveReady();
    this.pumpBlocked();
    this.startPending();
  }

  protected onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      if (inc === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "connection window overflow");
      return this.pumpBlocked();
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (inc === 0) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.streamError(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window overflow");
    if (s.blocked) this.pumpBlocked();
  }

  protected onReset(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    this.finish(s, new RawH2Error(`stream reset by peer, code ${code}`, code, code === ErrorCode.REFUSED_STREAM));
  }

  protected onGoaway(lastId: number, code: number): void {
    this.goawayReceived = true;
    this.emit("goaway", code, lastId);
    for (const s of [...this.streams.values()]) {
      if (s.id > lastId) this.finish(s, new RawH2Error(`GOAWAY (code ${code}) before the stream was processed`, code, true));
    }
    for (const s of this.pending.splice(0)) this.finish(s, new RawH2Error(`GOAWAY (code ${code})`, code, true));
    if (this.streams.size === 0) this.endSocket();
  }

  private startPending(): void {
    while (this.pending.length > 0 && this.streams.size < this.peerMaxConcurrent && !this.goawayReceived) {
      this.start(this.pending.shift()!);
    }
  }

  /** Response done. If our body is still unsent (early response), tell the server we stop. */
  private complete(s: Stream): void {
    if (s.sent < s.body.length) this.writeReset(s.id, ErrorCode.CANCEL);
    this.finish(s, null);
  }

  private streamError(s: Stream, code: number, msg: string): void {
    this.writeReset(s.id, code);
    this.finish(s, new RawH2Error(msg, code));
  }

  private finish(s: Stream, err: RawH2Error | null): void {
    if (s.id !== 0) this.streams.delete(s.id);
    const { cb, ctx, status, headers, trailers, chunks, bodyLen } = s;
    const body = err !== null || bodyLen === 0 ? EMPTY : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bodyLen);
    s.id = 0;
    s.cb = null;
    s.ctx = null;
    s.reqHeaders = null;
    s.body = EMPTY;
    s.sent = 0;
    s.status = 0;
    s.headers = NO_HEADERS;
    s.trailers = null;
    s.chunks = chunks.length === 0 ? chunks : [];
    s.bodyLen = 0;
    s.recvUnacked = 0;
    if (!s.blocked) this.pool.push(s);
    cb!(err, err === null ? status : 0, err === null ? headers : NO_HEADERS, body, err === null ? trailers : null, ctx);
    if (this.goawayReceived) {
      if (this.streams.size === 0 && !this.closed) this.endSocket();
    } else if (this.pending.length > 0) {
      this.startPending();
    }
  }

  protected connError(code: number, msg: string): void {
    if (this.closed) return;
    this.writeGoaway(code);
    this.flush();
    this.fail(new RawH2Error(msg, code));
    this.socket.destroy();
  }

  private endSocket(): void {
    this.flush();
    this.closed = true;
    // Nothing is left to read, and node:http2 servers keep their side open after a GOAWAY exchange,
    // so waiting for their FIN would leave the socket half-open.
    this.socket.end(() => this.socket.destroy());
  }

  /** Fails every stream; the connection is unusable afterwards. */
  private fail(err: RawH2Error): void {
    const wasClosed = this.closed;
    this.closed = true;
    for (const s of [...this.streams.values()]) this.finish(s, err);
    for (const s of this.pending.splice(0)) this.finish(s, err);
    // Streams already got the error; an 'error' event without a listener would throw from a socket callback.
    if (!wasClosed && this.listenerCount("error") > 0) this.emit("error", err);
  }
}
