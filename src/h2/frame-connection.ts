/**
 * Frame-level half of our HTTP/2 connections (client and server): batched writes, splitting the byte
 * stream into frames, header-block reassembly (HEADERS + CONTINUATION), and the frames that need no
 * stream state. The stream logic lives in the subclasses (RawH2Connection, RawH2ServerConnection).
 */
import { EventEmitter } from "node:events";
import type net from "node:net";
import { noteRead } from "./scavenge-pacer.js";
import { DEFAULT_MAX_FRAME, ErrorCode, Flag, FRAME_HEADER, FrameType, FrameWriter, MAX_WINDOW } from "./frames.js";

/** Largest compressed header block we reassemble from CONTINUATION frames, unless a subclass says less. */
const MAX_HEADER_BLOCK = 1024 * 1024;
/** CONTINUATION frames per header block; a real one needs a few (16 KiB each by default). */
const MAX_CONTINUATIONS = 512;

/** Byte `i` of `a` followed by `b`. */
function byteAt(a: Buffer, b: Buffer, i: number): number {
  return i < a.length ? a[i] : b[i - a.length];
}

export abstract class FrameConnection extends EventEmitter {
  abstract readonly socket: net.Socket;
  protected readonly out: FrameWriter;
  protected closed = false;
  /** Largest compressed header block reassembled; a peer that goes beyond is cut off (CONTINUATION flood). */
  protected maxHeaderBlock = MAX_HEADER_BLOCK;
  private flushScheduled = false;
  private readonly flushFn = (): void => this.flush();
  private rest: Buffer | null = null;
  // A header block split over HEADERS + CONTINUATION; nothing else may interleave (§6.10).
  private contId = 0;
  private contEndStream = false;
  private contParts: Buffer[] = [];
  private contBytes = 0;

  protected abstract connError(code: number, msg: string): void;
  protected abstract onHeaderBlock(id: number, block: Buffer, endStream: boolean): void;
  protected abstract onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void;
  protected abstract onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void;
  protected abstract onReset(id: number, code: number): void;
  protected abstract onGoaway(lastId: number, code: number): void;
  protected abstract onWindowUpdate(id: number, inc: number): void;
  protected abstract onPingAck(): void;
  /** A PING ACK was queued for the peer (a server counts them against a peer that does not read). */
  protected ackQueued(): void {
    // The client trusts its server.
  }
  /** A stream error on `id` found at the frame level (the stream may or may not be open). */
  protected abstract onStreamFault(id: number, code: number, msg: string): void;
  /** Called after each batched write: the send side may have room again. */
  protected abstract afterFlush(): void;

  constructor(writerBytes?: number) {
    super();
    this.out = new FrameWriter(writerBytes);
  }

  protected scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushFn);
  }

  protected flush(): void {
    this.flushScheduled = false;
    if (this.out.size === 0 || this.socket.destroyed) return;
    const taken = this.out.take();
    if (!Array.isArray(taken)) {
      this.socket.write(taken);
    } else {
      // One writev for the copied frames and the payloads kept by reference.
      const sock = this.socket;
      sock.cork();
      for (let i = 0; i < taken.length; i++) sock.write(taken[i]);
      sock.uncork();
    }
    // A write the kernel took at once left nothing queued in the socket, and node kept no reference.
    this.out.release(this.socket.writableLength > 0);
    this.afterFlush();
  }

  protected onData(chunk: Buffer): void {
    noteRead(chunk.length);
    const buf = chunk;
    let off = 0;
    if (this.rest !== null) {
      off = this.completeStraddlingFrame(chunk);
      if (off < 0 || this.closed) return;
    }
    while (buf.length - off >= FRAME_HEADER) {
      const len = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
      if (len > DEFAULT_MAX_FRAME) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
      if (buf.length - off - FRAME_HEADER < len) break;
      const type = buf[off + 3];
      const flags = buf[off + 4];
      const id = buf.readUInt32BE(off + 5) & MAX_WINDOW;
      this.onFrame(type, flags, id, buf, off + FRAME_HEADER, off + FRAME_HEADER + len);
      if (this.closed) return;
      off += FRAME_HEADER + len;
    }
    if (off < buf.length) this.rest = buf.subarray(off);
  }

  /**
   * The frame cut by the previous read's end: copies just its bytes from `chunk` and handles it. Joining
   * the whole read to the leftover instead copied every byte of a bulk download once more, in a fresh
   * 64 KiB+ buffer per read, which made a 1 MiB-message stream cost twice node:http2's CPU. Returns
   * where the rest of `chunk` starts, or -1 when the frame is still incomplete (kept for the next read).
   */
  private completeStraddlingFrame(chunk: Buffer): number {
    const rest = this.rest!;
    this.rest = null;
    const headMissing = FRAME_HEADER - rest.length;
    if (headMissing > 0 && chunk.length < headMissing) {
      this.rest = Buffer.concat([rest, chunk]);
      return -1;
    }
    const len = (byteAt(rest, chunk, 0) << 16) | (byteAt(rest, chunk, 1) << 8) | byteAt(rest, chunk, 2);
    if (len > DEFAULT_MAX_FRAME) {
      this.connError(ErrorCode.FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
      return -1;
    }
    const missing = FRAME_HEADER + len - rest.length;
    if (chunk.length < missing) {
      this.rest = Buffer.concat([rest, chunk]);
      return -1;
    }
    if (headMissing <= 0 && rest[3] === FrameType.DATA && (rest[4] & Flag.PADDED) === 0 && this.contId === 0) {
      // Bulk downloads cut a DATA frame at nearly every read: its payload goes on as two chunks, uncopied,
      // accounted as two frames (END_STREAM on the second), which flow control and the consumer cannot
      // tell from one.
      const flags = rest[4];
      const id = rest.readUInt32BE(5) & MAX_WINDOW;
      this.onDataFrame(flags & ~Flag.END_STREAM, id, rest, FRAME_HEADER, rest.length);
      if (this.closed) return -1;
      this.onDataFrame(flags, id, chunk, 0, missing);
      return missing;
    }
    const frame = Buffer.concat([rest, chunk.subarray(0, missing)], FRAME_HEADER + len);
    this.onFrame(frame[3], frame[4], frame.readUInt32BE(5) & MAX_WINDOW, frame, FRAME_HEADER, FRAME_HEADER + len);
    return missing;
  }

  protected onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.contId !== 0 && type !== FrameType.CONTINUATION) {
      return this.connError(ErrorCode.PROTOCOL_ERROR, "frame interleaved in a header block");
    }
    switch (type) {
      case FrameType.DATA:
        return this.onDataFrame(flags, id, buf, start, end);
      case FrameType.HEADERS:
        return this.onHeaders(flags, id, buf, start, end);
      case FrameType.CONTINUATION:
        if (id !== this.contId || id === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION");
        this.contParts.push(buf.subarray(start, end));
        this.contBytes += end - start;
        // Empty or tiny CONTINUATION frames would never reach the byte limit.
        if (this.contParts.length > MAX_CONTINUATIONS) return this.connError(ErrorCode.ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
        // A peer that never ends its header block would otherwise grow this without bound.
        if (this.contBytes > this.maxHeaderBlock) return this.connError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large");
        if ((flags & Flag.END_HEADERS) !== 0) {
          const block = Buffer.concat(this.contParts);
          this.contParts = [];
          this.contBytes = 0;
          this.contId = 0;
          this.onHeaderBlock(id, block, this.contEndStream);
        }
        return;
      case FrameType.RST_STREAM:
        if (end - start !== 4) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM length");
        if (id === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
        return this.onReset(id, buf.readUInt32BE(start));
      case FrameType.SETTINGS:
        return this.onSettings(flags, id, buf, start, end);
      case FrameType.PUSH_PROMISE:
        return this.connError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE with push disabled");
      case FrameType.PING:
        if (end - start !== 8) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "PING length");
        if (id !== 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
        if ((flags & Flag.ACK) === 0) {
          this.out.header(8, FrameType.PING, Flag.ACK, 0);
          this.out.bytes(buf, start, end);
          this.scheduleFlush();
          this.ackQueued();
        } else {
          this.onPingAck();
        }
        return;
      case FrameType.GOAWAY:
        if (id !== 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (end - start < 8) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY length");
        return this.onGoaway(buf.readUInt32BE(start) & MAX_WINDOW, buf.readUInt32BE(start + 4));
      case FrameType.WINDOW_UPDATE:
        if (end - start !== 4) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE length");
        return this.onWindowUpdate(id, buf.readUInt32BE(start) & MAX_WINDOW);
      case FrameType.PRIORITY:
        // RFC 9113 deprecates priority signals but keeps the frame's format rules (§6.3); the
        // signal itself is ignored.
        if (id === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (end - start !== 5) return this.onStreamFault(id, ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length");
        if ((buf.readUInt32BE(start) & MAX_WINDOW) === id) return this.onStreamFault(id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself");
        return;
      default:
        // Unknown frame types are ignored (§5.5).
        return;
    }
  }

  protected onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
    let s = start;
    let e = end;
    if ((flags & Flag.PADDED) !== 0) {
      if (s >= e) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "padded HEADERS without a pad length");
      const pad = buf[s++];
      e -= pad;
    }
    if ((flags & Flag.PRIORITY) !== 0) {
      if (s + 5 > e) return this.connError(ErrorCode.PROTOCOL_ERROR, "HEADERS padding exceeds payload");
      if ((buf.readUInt32BE(s) & MAX_WINDOW) === id) return this.onStreamFault(id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself");
      s += 5;
    }
    if (s > e) return this.connError(ErrorCode.PROTOCOL_ERROR, "HEADERS padding exceeds payload");
    const fragment = buf.subarray(s, e);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if ((flags & Flag.END_HEADERS) !== 0) return this.onHeaderBlock(id, fragment, endStream);
    this.contId = id;
    this.contEndStream = endStream;
    this.contParts.push(fragment);
    this.contBytes = fragment.length;
  }

  /** A header block as HEADERS (+ CONTINUATION frames when it exceeds the peer's frame size). */
  protected writeHeaderBlock(id: number, block: Buffer, endStream: boolean, maxFrame: number): void {
    const o = this.out;
    const endFlag = endStream ? Flag.END_STREAM : 0;
    if (block.length <= maxFrame) {
      o.header(block.length, FrameType.HEADERS, Flag.END_HEADERS | endFlag, id);
      o.bytes(block, 0, block.length);
    } else {
      o.header(maxFrame, FrameType.HEADERS, endFlag, id);
      o.bytes(block, 0, maxFrame);
      for (let off = maxFrame; off < block.length; off += maxFrame) {
        const end = Math.min(block.length, off + maxFrame);
        o.header(end - off, FrameType.CONTINUATION, end === block.length ? Flag.END_HEADERS : 0, id);
        o.bytes(block, off, end);
      }
    }
    this.scheduleFlush();
  }

  protected writeReset(id: number, code: number): void {
    this.out.header(4, FrameType.RST_STREAM, 0, id);
    this.out.u32(code);
    this.scheduleFlush();
  }

  protected writePing(): void {
    this.out.header(8, FrameType.PING, 0, 0);
    this.out.u32(0x70696c6f); // "pilo"
    this.out.u32(0x74666973); // "tfis"
    this.scheduleFlush();
  }

  /** GOAWAY naming `lastId`, the last peer stream processed (a client accepts no server streams: 0). */
  protected writeGoaway(code: number, lastId = 0): void {
    this.out.header(8, FrameType.GOAWAY, 0, 0);
    this.out.u32(lastId);
    this.out.u32(code);
    this.scheduleFlush();
  }

  /** Sends what is batched, then ends and destroys the socket; the connection takes no more frames. */
  protected endSocket(): void {
    this.flush();
    this.closed = true;
    // Nothing is left to read, and node:http2 peers keep their side open after a GOAWAY exchange, so
    // waiting for their FIN would leave the socket half-open.
    const sock = this.socket;
    sock.end(() => sock.destroy());
  }
}
