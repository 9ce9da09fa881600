/**
 * An HTTP/2 client connection that speaks frames directly over a socket (h2c with prior knowledge, or
 * TLS with ALPN h2), written because node:http2's client side was the proxy's dominant request cost
 * (issue #9; numbers in docs/raw-h2-client.md). Streams are RawH2Streams; pooling is RawH2Pool's.
 *
 * Allocation-light by design: no per-request closures, all frames of one event-loop turn leave in one
 * socket write, and a DATA payload reaches its listener as a view into the socket's read buffer.
 *
 * Events: 'connect' (transport up, preface sent), 'remoteSettings' (peer's MAX_CONCURRENT_STREAMS),
 * 'goaway' (code, lastStreamId), 'pingAck', 'close' (once, after every stream closed).
 */
import type { OutgoingHttpHeaders } from "node:http2";
import type net from "node:net";
import type tls from "node:tls";
import { DEFAULT_WINDOW, ErrorCode, Flag, FrameType, MAX_STREAM_ID, PREFACE, Setting } from "../../h2/frames.js";
import { HpackDecoder, HpackEncoder, HpackError } from "../../h2/hpack.js";
import { ReceiveFlowConnection } from "../../h2/receive-flow.js";
import { toHeaders, type ParsedBlock } from "./response-headers.js";
import { RawH2Stream } from "./raw-h2-stream.js";

/** Largest decoded response header list we accept (§6.5.2 accounting); larger is a stream error. */
const MAX_HEADER_LIST = 256 * 1024;

export interface RawH2ConnectionOptions {
  /** :authority when the request has none. */
  authority: string;
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: what each stream may have in flight towards us. */
  streamWindow?: number;
  /** Our connection receive window (raised from 65 535 by WINDOW_UPDATE at start). */
  connectionWindow?: number;
}

/** Whoever pools the connection: told when a stream leaves the wire, without a listener per stream. */
export interface StreamSlotOwner {
  /** A stream of `conn` closed on the wire (its slot is free). */
  onStreamClosed(conn: RawH2Connection): void;
}

export class RawH2Connection extends ReceiveFlowConnection<RawH2Stream> {
  /** The connection is gone (socket closed); streams report no session from then on. */
  dead = false;
  /** Set when TLS came up with an ALPN protocol other than h2. */
  alpnMismatch = false;
  /** Peer's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until it says otherwise). */
  peerMaxConcurrent = 0xffff_ffff;
  owner: StreamSlotOwner | null = null;
  private readonly enc = new HpackEncoder();
  private readonly dec = new HpackDecoder();
  private readonly fields: string[] = [];
  private readonly parsed: ParsedBlock = { error: "", status: 0, contentLength: -1 };
  private nextId = 1;
  /** Streams the peer ended while our request was still open (we reset them): late frames are errors. */
  private readonly peerEnded = new Set<number>();
  /** GOAWAY received or sent, or ids ran out: no new streams. */
  private goingAway = false;
  private readonly scheme: string;
  private readonly authority: string;

  constructor(
    readonly socket: net.Socket | tls.TLSSocket,
    opts: RawH2ConnectionOptions,
  ) {
    super(opts.streamWindow ?? DEFAULT_WINDOW, opts.connectionWindow ?? DEFAULT_WINDOW);
    this.authority = opts.authority;
    const secure = "encrypted" in socket && socket.encrypted === true;
    this.scheme = secure ? "https" : "http";
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.maybeDrain());
    socket.on("error", () => {
      // 'close' follows and fails the streams; the pool reads the cause from the socket.
    });
    socket.once("close", () => this.die());
    socket.once(secure ? "secureConnect" : "connect", () => this.onTransportUp());
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Whether request() may be called. */
  get acceptsStreams(): boolean {
    return !this.goingAway && !this.closed && !this.dead;
  }

  /**
   * Opens a stream and queues its HEADERS (END_STREAM when `endStream`). Throws when the connection
   * takes no new streams; callers check `acceptsStreams` first.
   */
  request(headers: OutgoingHttpHeaders, endStream: boolean): RawH2Stream {
    if (!this.acceptsStreams) throw new Error("raw-h2: connection takes no new streams");
    const s = new RawH2Stream(this);
    const id = this.nextId;
    this.nextId += 2;
    s.id = id;
    s.sendWindow = this.peerInitialWindow;
    s.recvWindow = this.streamWindow;
    s.isHead = headers[":method"] === "HEAD";
    this.streams.add(s);
    this.writeHeaderBlock(id, this.enc.encode(headers, this.scheme, this.authority), endStream, this.peerMaxFrame);
    if (endStream) s.localEnded = s.endSent = true;
    if (this.nextId > MAX_STREAM_ID) {
      // Ids ran out: behave as if the peer said GOAWAY without refusing anything.
      this.goingAway = true;
      this.emit("goaway", ErrorCode.NO_ERROR, id);
    }
    return s;
  }

  /** Graceful: GOAWAY(NO_ERROR), then the socket ends when in-flight streams finish. */
  close(): void {
    if (this.closed || this.dead) return;
    if (!this.goingAway) {
      this.goingAway = true;
      this.writeGoaway(ErrorCode.NO_ERROR);
    }
    if (this.streams.size === 0) this.endSocket();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Sends a PING; 'pingAck' follows when the peer answers. */
  ping(): void {
    if (!this.dead) this.writePing();
  }

  private onTransportUp(): void {
    const sock = this.socket as tls.TLSSocket;
    if (this.scheme === "https" && sock.alpnProtocol !== "h2") {
      this.alpnMismatch = true;
      this.socket.destroy();
      return;
    }
    const o = this.out;
    o.bytes(PREFACE, 0, PREFACE.length);
    o.header(18, FrameType.SETTINGS, 0, 0);
    o.u16(Setting.ENABLE_PUSH);
    o.u32(0);
    o.u16(Setting.INITIAL_WINDOW_SIZE);
    o.u32(this.streamWindow);
    o.u16(Setting.MAX_HEADER_LIST_SIZE);
    o.u32(MAX_HEADER_LIST);
    this.raiseConnectionWindow();
    // The preface goes out before any request's HEADERS batched in the same turn.
    this.flush();
    this.emit("connect");
  }

  // ------------------------------------------------------------------------------------ receive side

  /** DATA before the final response HEADERS is malformed (§8.1). */
  protected refusesData(s: RawH2Stream): boolean {
    if (s.status !== 0) return false;
    this.streamError(s, ErrorCode.PROTOCOL_ERROR, "DATA before response HEADERS");
    return true;
  }

  protected onHeaderBlock(id: number, block: Buffer, endStream: boolean): void {
    const s = this.streams.get(id);
    const fields = this.fields;
    fields.length = 0;
    let size: number;
    try {
      size = this.dec.decode(block, fields);
    } catch (err) {
      if (err instanceof HpackError) return this.connError(ErrorCode.COMPRESSION_ERROR, err.message);
      throw err;
    }
    // Even ids would be pushes (disabled). A block for a stream we reset is decoded above all the
    // same: the dynamic table must stay in step with the peer's.
    if (s === undefined) return this.onFrameForGoneStream(id, "HEADERS");
    if (size > MAX_HEADER_LIST) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "response header list too large");
    const p = this.parsed;
    const trailers = s.status !== 0;
    const headers = toHeaders(fields, trailers, p);
    fields.length = 0;
    if (p.error !== "") return this.streamError(s, ErrorCode.PROTOCOL_ERROR, `malformed response: ${p.error}`);
    if (trailers) {
      if (!endStream) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM");
      s.trailers = headers;
      return this.endRemote(s);
    }
    const status = p.status;
    if (status < 200) {
      if (status === 101 || endStream) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, `bad interim response ${status}`);
      return; // 1xx: informational, the final response follows.
    }
    s.status = status;
    s.contentLength = s.isHead || status === 204 || status === 304 ? -1 : p.contentLength;
    s.emitResponse(headers, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0));
    if (endStream && !s.destroyed) this.endRemote(s);
  }

  /** END_STREAM from the peer: check the body length, then the stream is done on the wire. */
  protected endRemote(s: RawH2Stream): void {
    if (s.contentLength >= 0 && s.received !== s.contentLength) {
      return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "body shorter than content-length");
    }
    s.remoteEnded = true;
    // A complete response before our request body ended: tell the peer we stop sending (§8.1).
    if (!s.endSent) {
      this.writeReset(s.id, ErrorCode.CANCEL);
      // Remembered (a few, this is rare) so that late frames from the peer get STREAM_CLOSED.
      if (this.peerEnded.size >= 64) this.peerEnded.clear();
      this.peerEnded.add(s.id);
    }
    this.retire(s);
    s.finishRemote();
  }

  protected sentEnd(s: RawH2Stream): void {
    s.endSent = true;
    if (s.remoteEnded) this.retire(s);
  }

  /** Takes `s` off the wire and frees its slot. */
  protected retire(s: RawH2Stream): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    s.sendQueue.length = 0;
    this.owner?.onStreamClosed(this);
    if (this.goingAway && this.streams.size === 0 && !this.closed && !this.dead) this.endSocket();
  }

  /** RawH2Stream.close(): RST_STREAM(code) unless already off the wire. */
  resetStream(s: RawH2Stream, code: number): void {
    if (this.streams.get(s.id) === s) {
      this.writeReset(s.id, code);
      this.retire(s);
    }
    s.abortSoon(code);
  }

  protected onStreamFault(id: number, code: number, why: string): void {
    const s = this.streams.get(id);
    if (s !== undefined) return this.streamError(s, code, why);
    // RST_STREAM must not name an idle stream (§6.4): a fault there ends the connection instead.
    if (id >= this.nextId) return this.connError(code, why);
    this.writeReset(id, code);
  }

  /**
   * DATA or HEADERS for a stream that is no longer open. After the peer's END_STREAM it may send
   * neither (§5.1, half-closed remote / closed): STREAM_CLOSED, even though we may have reset the
   * stream ourselves meanwhile. Streams we reset before the peer ended them may still see frames
   * the peer sent before our RST_STREAM arrived; those are ignored (§5.4.2). Unopened ids are a
   * protocol violation.
   */
  protected onFrameForGoneStream(id: number, what: string): void {
    if ((id & 1) === 0 || id >= this.nextId) return this.connError(ErrorCode.PROTOCOL_ERROR, `${what} for an unopened stream`);
    if (this.peerEnded.has(id)) this.writeReset(id, ErrorCode.STREAM_CLOSED);
  }

  protected streamError(s: RawH2Stream, code: number, _why: string): void {
    this.writeReset(s.id, code);
    this.retire(s);
    s.abort(code);
  }

  protected onPeerSetting(key: number, value: number): boolean {
    if (key === Setting.HEADER_TABLE_SIZE) {
      this.enc.setMaxTableSize(value);
    } else if (key === Setting.ENABLE_PUSH) {
      // Only a client may enable push; from a server any value but 0 is an error (§6.5.2).
      if (value !== 0) {
        this.connError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH from a server");
        return false;
      }
    } else if (key === Setting.MAX_CONCURRENT_STREAMS) {
      this.peerMaxConcurrent = value;
    }
    return true;
  }

  protected afterPeerSettings(): void {
    this.emit("remoteSettings", this.peerMaxConcurrent);
  }

  protected onWindowUpdateForGone(_id: number): void {
    // A stream we closed; the peer's update crossed our RST_STREAM or END_STREAM.
  }

  protected onReset(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id >= this.nextId && (id & 1) === 1) this.connError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM for an idle stream");
      return;
    }
    this.retire(s);
    if (code === ErrorCode.NO_ERROR) {
      // "Stop sending, the response is over" (§8.1), also sent by peers that die politely. node ends
      // the stream's readable side cleanly then, and the router relies on that (a gRPC response with
      // no trailers is a failure it reports), so the same: what was received, then 'end', 'close'.
      s.remoteEnded = true;
      s.finishRemote();
      return;
    }
    s.abort(code);
  }

  protected onGoaway(lastId: number, code: number): void {
    this.goingAway = true;
    this.emit("goaway", code, lastId);
    // Streams the peer never processed come back refused, so the router replays them elsewhere.
    for (const s of this.streams.list()) {
      if (s.id > lastId) {
        this.retire(s);
        s.abort(ErrorCode.REFUSED_STREAM);
      }
    }
    if (this.streams.size === 0 && !this.closed && !this.dead) this.endSocket();
  }

  protected onPingAck(): void {
    this.emit("pingAck");
  }

  protected connError(code: number, _why: string): void {
    if (this.closed || this.dead) return;
    this.writeGoaway(code);
    this.flush();
    this.closed = true;
    this.socket.destroy();
  }

  /** The socket closed: every stream still on the wire fails, then 'close'. */
  private die(): void {
    if (this.dead) return;
    this.dead = true;
    this.closed = true;
    this.out.clear();
    for (const s of this.streams.list()) {
      this.streams.delete(s.id);
      this.owner?.onStreamClosed(this);
      // node reports streams of a dead session as CANCEL; with no session the router counts a failure.
      s.abort(ErrorCode.CANCEL);
    }
    this.blockedStreams.length = 0;
    this.drainWaiters.length = 0;
    this.emit("close");
  }
}
