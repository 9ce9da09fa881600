/**
 * Send half of our HTTP/2 connections (client and server): bodies into DATA frames within the peer's
 * stream and connection windows, chunks held (by reference) while no window has room, and write() /
 * 'drain' backpressure from both the windows and the socket's buffer. The client's RawH2Connection and
 * the server's RawH2ServerConnection extend this through the receive half (receive-flow.ts).
 */
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorCode, Flag, FRAME_HEADER, FrameType, MAX_WINDOW, Setting } from "./frames.js";
import { FrameConnection } from "./frame-connection.js";
import { StreamTable } from "./stream-table.js";

/** The send-side state of one stream, kept on the stream object itself (no side tables). */
export interface SendStream {
  /** Stream id on the wire. */
  readonly id: number;
  /** Closed (reset or finished): nothing more is sent. */
  readonly destroyed: boolean;
  /** What the peer still lets us send on this stream. */
  sendWindow: number;
  /** Chunks accepted by write() that no window had room for yet; the first starts at `sendOffset`. */
  sendQueue: Buffer[];
  sendOffset: number;
  /** end() was called (END_STREAM goes out with the last queued chunk, or trailers follow). */
  localEnded: boolean;
  /** END_STREAM is on the wire. */
  endSent: boolean;
  /** Where this stream's latest DATA frame header went in the writer, and the writer's epoch then (-1: none). */
  lastDataPos: number;
  lastDataEpoch: number;
  /** The body ends in trailers: END_STREAM is not put on the last DATA frame (see bodySent). */
  endsWithTrailers: boolean;
  /** write() returned false; 'drain' is owed. */
  needDrain: boolean;
  /** In the connection's list of streams waiting for window. */
  blocked: boolean;
  /** Emits 'drain'. */
  emit(event: "drain"): boolean;
}

/** Socket bytes queued (written plus batched) above which write() asks callers to wait for 'drain'. */
const SOCKET_HIGH_WATER = 256 * 1024;
/** DATA payloads from this size on go to the socket by reference instead of being copied (frames.ts). */
const REF_MIN_BYTES = 4096;

export abstract class SendFlowConnection<S extends SendStream> extends FrameConnection {
  /** Streams on the wire, by id. */
  protected readonly streams = new StreamTable<S>();
  /** Streams with queued chunks that wait for window. */
  protected blockedStreams: S[] = [];
  /** Streams whose write() returned false and that are owed a 'drain'. */
  protected drainWaiters: S[] = [];
  protected peerMaxFrame = DEFAULT_MAX_FRAME;
  protected connSendWindow = DEFAULT_WINDOW;
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: each new stream's send window. */
  protected peerInitialWindow = DEFAULT_WINDOW;

  /** A stream-level protocol error on `s`: RST_STREAM(code), and the stream is closed. */
  protected abstract streamError(s: S, code: number, why: string): void;
  /**
   * A SETTINGS parameter other than INITIAL_WINDOW_SIZE and MAX_FRAME_SIZE (which shape sending and are
   * applied here); false when it ended the connection.
   */
  protected abstract onPeerSetting(key: number, value: number): boolean;
  /** SETTINGS applied (and ACKed). */
  protected abstract afterPeerSettings(): void;
  /** WINDOW_UPDATE for a stream that is not open (idle ids are an error, closed ones are ignored). */
  protected abstract onWindowUpdateForGone(id: number): void;

  /** END_STREAM went out on `s`. */
  protected abstract sentEnd(s: S): void;

  /** The body of a stream that ends in trailers is all on the wire (override to send them). */
  protected bodySent(_s: S): void {
    // Client streams never end in trailers.
  }

  /** S.write(): frames what the windows allow, queues the rest; false asks for 'drain'. */
  writeData(s: S, chunk: Buffer): boolean {
    // Off the wire (reset, or answered completely and reset by us): no frame may follow (§5.1).
    if (this.streams.get(s.id) !== s) return true;
    if (chunk.length === 0) return !this.congested;
    if (s.sendQueue.length === 0) {
      const sent = this.frameData(s, chunk, 0, false);
      if (sent < chunk.length) this.enqueue(s, sent === 0 ? chunk : chunk.subarray(sent));
    } else {
      s.sendQueue.push(chunk);
    }
    if (s.sendQueue.length === 0 && !this.congested) return true;
    if (!s.needDrain) {
      s.needDrain = true;
      this.drainWaiters.push(s);
    }
    return false;
  }

  protected onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & Flag.ACK) !== 0) {
      if (end !== start) this.connError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with payload");
      return;
    }
    if ((end - start) % 6 !== 0) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length");
    for (let p = start; p < end; p += 6) {
      const key = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
        // A change applies retroactively to every open stream's send window (§6.9.2).
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.list()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "stream window overflow");
        }
      } else if (key === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 0xff_ffff) return this.connError(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range");
        this.peerMaxFrame = value;
      } else if (!this.onPeerSetting(key, value)) {
        return;
      }
    }
    this.out.header(0, FrameType.SETTINGS, Flag.ACK, 0);
    this.scheduleFlush();
    this.afterPeerSettings();
    this.pumpBlocked();
  }

  protected onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      if (inc === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "connection window overflow");
      return this.pumpBlocked();
    }
    const s = this.streams.get(id);
    if (s === undefined) return this.onWindowUpdateForGone(id);
    if (inc === 0) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.streamError(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window overflow");
    if (s.blocked) this.pumpBlocked();
  }

  /** The stream's end(): END_STREAM now, or with the last queued chunk (or trailers, once the body is out). */
  endData(s: S): void {
    if (s.sendQueue.length > 0 || this.streams.get(s.id) !== s) return;
    if (s.endsWithTrailers) return this.bodySent(s);
    // A body whose last frame has not left yet (end() right after the last write(), the usual case)
    // ends on that frame: the peer gets one DATA frame, not a second, empty one to parse.
    if (!this.out.endStreamAt(s.lastDataPos, s.lastDataEpoch)) {
      this.out.header(0, FrameType.DATA, Flag.END_STREAM, s.id);
      this.scheduleFlush();
    }
    this.sentEnd(s);
  }

  protected get congested(): boolean {
    return this.socket.writableLength + this.out.size > SOCKET_HIGH_WATER;
  }

  /** Frames up to `chunk.length - from` bytes within both windows; returns the offset reached. */
  private frameData(s: S, chunk: Buffer, from: number, endAtLast: boolean): number {
    let off = from;
    const len = chunk.length;
    while (off < len) {
      const n = Math.min(len - off, this.peerMaxFrame, s.sendWindow, this.connSendWindow);
      if (n <= 0) break;
      const last = endAtLast && off + n === len;
      this.out.header(n, FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
      s.lastDataPos = this.out.len - FRAME_HEADER;
      s.lastDataEpoch = this.out.epoch;
      if (n >= REF_MIN_BYTES) this.out.ref(chunk, off, off + n);
      else this.out.bytes(chunk, off, off + n);
      off += n;
      s.sendWindow -= n;
      this.connSendWindow -= n;
    }
    if (off > from) this.scheduleFlush();
    return off;
  }

  private enqueue(s: S, rest: Buffer): void {
    s.sendQueue.push(rest);
    s.sendOffset = 0;
    if (!s.blocked) {
      s.blocked = true;
      this.blockedStreams.push(s);
    }
  }

  /** Sends what queued streams can now send; true if a stream is still waiting. */
  private pump(s: S): boolean {
    const q = s.sendQueue;
    while (q.length > 0) {
      const chunk = q[0];
      const endAtLast = s.localEnded && q.length === 1 && !s.endsWithTrailers;
      const off = this.frameData(s, chunk, s.sendOffset, endAtLast);
      if (off < chunk.length) {
        s.sendOffset = off;
        return true;
      }
      q.shift();
      s.sendOffset = 0;
      if (endAtLast) this.sentEnd(s);
      else if (q.length === 0 && s.localEnded && s.endsWithTrailers) this.bodySent(s);
    }
    return false;
  }

  protected pumpBlocked(): void {
    if (this.blockedStreams.length === 0) return;
    const list = this.blockedStreams;
    this.blockedStreams = [];
    for (const s of list) {
      s.blocked = false;
      if (s.destroyed || s.sendQueue.length === 0) continue;
      if (this.pump(s)) {
        s.blocked = true;
        this.blockedStreams.push(s);
      }
    }
    this.maybeDrain();
  }

  protected afterFlush(): void {
    if (this.drainWaiters.length > 0) this.maybeDrain();
  }

  /** 'drain' for every waiting stream whose queue is empty, once the socket has room. */
  protected maybeDrain(): void {
    if (this.drainWaiters.length === 0 || this.congested) return;
    const list = this.drainWaiters;
    this.drainWaiters = [];
    for (const s of list) {
      if (s.destroyed) continue;
      if (s.sendQueue.length > 0) {
        this.drainWaiters.push(s);
        continue;
      }
      s.needDrain = false;
      s.emit("drain");
    }
  }
}
