/**
 * The server side of one downstream HTTP/2 connection, speaking frames directly over the socket (h2c
 * with prior knowledge, or TLS with ALPN h2). Written because node:http2's server half cost as much
 * CPU per proxied request as the rest of the proxy (issue #9; docs/raw-h2-server.md); it shares the
 * frame layer, send-side flow control and HPACK with our upstream client (src/h2/).
 *
 * New streams of one socket read are started after the whole read is parsed, so streams a client
 * reset in the same read (rapid reset, CVE-2023-44487) never reach the router; at most `perTurn` start
 * per event-loop turn (Envoy's max_requests_per_io_cycle), the rest wait for the next turn.
 *
 * Abuse limits (nghttp2's, as node:http2 applied them): client resets drain a token bucket (1000,
 * refilled 33/s), control-frame ACKs owed to a client that does not read are bounded, header blocks
 * are bounded in bytes and CONTINUATION frames, and decoded header lists in bytes and fields.
 */
import type { OutgoingHttpHeaders } from "node:http2";
import type net from "node:net";
import { ErrorCode, Flag, FrameType, PREFACE, Setting } from "../../h2/frames.js";
import { HpackDecoder, HpackEncoder, HpackError } from "../../h2/hpack.js";
import { ReceiveFlowConnection } from "../../h2/receive-flow.js";
import { type ParsedRequest, toRequestHeaders } from "./request-headers.js";
import { RawH2ServerStream } from "./raw-h2-server-stream.js";
import { ResetBudget } from "./reset-budget.js";
import { ClientStreamIds } from "./client-stream-ids.js";
import { type RawH2StreamSink, StreamStarts } from "./stream-starts.js";

export type { RawH2StreamSink } from "./stream-starts.js";

/** Client resets allowed in a burst, and refilled per second (nghttp2's stream reset rate limit). */
const RESET_BURST = 1000;
const RESET_RATE_PER_S = 33;
/** PING/SETTINGS ACKs queued for a client whose socket stopped draining (nghttp2's max outbound ACKs). */
const MAX_OWED_ACKS = 1000;
/** Bytes queued on the socket above which we stop reading the client until it drains. */
const READ_PAUSE_BYTES = 4 * 1024 * 1024;

export interface RawH2ServerOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we advertise and enforce. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: request body a stream may have in flight towards us. */
  readonly streamWindow: number;
  /** Connection receive window (raised from 65 535 by WINDOW_UPDATE at start). */
  readonly connectionWindow: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertise; larger request header lists are refused. */
  readonly maxHeaderListSize: number;
  /** Most fields (pseudo-headers included) a request header list may have. */
  readonly maxHeaderFields: number;
  /** New streams started per connection per event-loop turn. */
  readonly perTurn: number;
}

export class RawH2ServerConnection extends ReceiveFlowConnection<RawH2ServerStream> {
  private readonly enc = new HpackEncoder();
  private readonly dec = new HpackDecoder();
  private readonly fields: string[] = [];
  private readonly parsed: ParsedRequest = { error: "", contentLength: -1 };
  /** Preface bytes still expected; then the first frame must be SETTINGS. */
  private prefaceLeft = PREFACE.length;
  private settingsSeen = false;
  /** Client stream ids used, skipped, and reset by us. */
  private readonly ids = new ClientStreamIds();
  /** GOAWAY sent: streams above the last id taken are refused. */
  private goingAway = false;
  private readonly resets = new ResetBudget(RESET_BURST, RESET_RATE_PER_S);
  private owedAcks = 0;
  /** Reading stopped because the client is not reading our writes. */
  private readPaused = false;
  /** New streams wait here for the end of their read (or for a turn's budget). */
  private readonly starts: StreamStarts;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: RawH2ServerOptions,
    sink: RawH2StreamSink,
  ) {
    super(opts.streamWindow, opts.connectionWindow, 4096);
    this.starts = new StreamStarts(opts.perTurn, sink);
    // A compressed block larger than the decoded list we accept (plus slack for literals) is refused
    // before it is decoded.
    this.maxHeaderBlock = Math.max(64 * 1024, opts.maxHeaderListSize + (opts.maxHeaderListSize >>> 2));
    socket.on("data", (chunk: Buffer) => this.onSocketData(chunk));
    socket.on("drain", () => {
      this.owedAcks = 0;
      if (this.readPaused) {
        this.readPaused = false;
        this.starts.held = false;
        socket.resume();
        this.starts.afterRead();
      }
      this.maybeDrain();
    });
    socket.once("close", () => this.die());
    const o = this.out;
    o.header(18, FrameType.SETTINGS, 0, 0);
    o.u16(Setting.MAX_CONCURRENT_STREAMS);
    o.u32(opts.maxConcurrentStreams);
    o.u16(Setting.INITIAL_WINDOW_SIZE);
    o.u32(this.streamWindow);
    o.u16(Setting.MAX_HEADER_LIST_SIZE);
    o.u32(opts.maxHeaderListSize);
    this.raiseConnectionWindow();
    this.scheduleFlush();
  }

  /** Bytes read before the connection was handed over (the listener sniffs the preface). */
  feed(chunk: Buffer): void {
    this.onSocketData(chunk);
  }

  /** Graceful: GOAWAY(NO_ERROR) naming the last stream we take; the socket ends when those finish. */
  close(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.writeGoaway(ErrorCode.NO_ERROR, this.ids.last);
    if (this.streams.size === 0) this.endSocket();
  }

  private onSocketData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, chunk.length);
      const at = PREFACE.length - this.prefaceLeft;
      if (PREFACE.compare(chunk, 0, n, at, at + n) !== 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "bad connection preface");
      this.prefaceLeft -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.onData(chunk);
    this.starts.afterRead();
  }

  // ------------------------------------------------------------------------------------ receive side

  protected override onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!this.settingsSeen) {
      // The client's preface ends with a SETTINGS frame (§3.4).
      if (type !== FrameType.SETTINGS || (flags & Flag.ACK) !== 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "preface not followed by SETTINGS");
      this.settingsSeen = true;
    }
    super.onFrame(type, flags, id, buf, start, end);
  }

  /** DATA after the client's END_STREAM (the stream stays open for our response). */
  protected refusesData(s: RawH2ServerStream): boolean {
    if (!s.remoteEnded) return false;
    this.streamError(s, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    return true;
  }

  protected onHeaderBlock(id: number, block: Buffer, endStream: boolean): void {
    const fields = this.fields;
    fields.length = 0;
    let size: number;
    try {
      // Decoded even for streams we refuse: the dynamic table must stay in step with the client's.
      size = this.dec.decode(block, fields, this.opts.maxHeaderListSize);
    } catch (err) {
      if (err instanceof HpackError) return this.connError(ErrorCode.COMPRESSION_ERROR, err.message);
      throw err;
    }
    const s = this.streams.get(id);
    if (s !== undefined) return this.onTrailers(s, endStream);
    if ((id & 1) === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "HEADERS on an even stream id");
    if (id <= this.ids.last) {
      if (this.ids.wasReset(id)) return;
      if (this.ids.wasSkipped(id)) return this.connError(ErrorCode.PROTOCOL_ERROR, "HEADERS on a stream id lower than one already used");
      return this.connError(ErrorCode.STREAM_CLOSED, "HEADERS on a closed stream");
    }
    this.ids.open(id);
    if (this.goingAway) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    if (this.streams.size >= this.opts.maxConcurrentStreams) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    if (size > this.opts.maxHeaderListSize || fields.length > 2 * this.opts.maxHeaderFields) {
      return this.refuse(id, ErrorCode.ENHANCE_YOUR_CALM);
    }
    const p = this.parsed;
    const headers = toRequestHeaders(fields, false, p);
    fields.length = 0;
    if (p.error !== "") return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    const s2 = new RawH2ServerStream(id, this);
    s2.sendWindow = this.peerInitialWindow;
    s2.recvWindow = this.streamWindow;
    s2.contentLength = p.contentLength;
    this.streams.add(s2);
    if (endStream) {
      if (p.contentLength > 0) {
        this.streams.delete(id);
        return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
      }
      s2.remoteEnded = true;
      s2.endEmitted = true;
    }
    this.starts.add(s2, headers, endStream ? Flag.END_STREAM | Flag.END_HEADERS : Flag.END_HEADERS);
  }

  /** A second header block on an open stream: the request's trailers (dropped, as node's server path did). */
  private onTrailers(s: RawH2ServerStream, endStream: boolean): void {
    if (s.remoteEnded) return this.streamError(s, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    if (!endStream) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM");
    toRequestHeaders(this.fields, true, this.parsed);
    this.fields.length = 0;
    if (this.parsed.error !== "") return this.streamError(s, ErrorCode.PROTOCOL_ERROR, this.parsed.error);
    this.endRemote(s);
  }

  /** END_STREAM from the client: check the body length; the exchange is over once our side ended too. */
  protected endRemote(s: RawH2ServerStream): void {
    if (s.contentLength >= 0 && s.received !== s.contentLength) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "body shorter than content-length");
    s.remoteEnded = true;
    if (s.endSent) this.retire(s, ErrorCode.NO_ERROR, false);
    s.finishRemote();
  }

  /** A request refused before it became a stream (its HEADERS were decoded). */
  private refuse(id: number, code: number): void {
    this.fields.length = 0;
    this.writeReset(id, code);
    this.ids.noteReset(id);
  }

  /**
   * DATA (or another stream frame) for a stream not open. Unopened ids are a protocol violation; for
   * streams we reset, frames the client sent before our RST_STREAM arrived are ignored (§5.4.2); any
   * other closed stream gets STREAM_CLOSED.
   */
  protected onFrameForGoneStream(id: number, what: string): void {
    if (this.ids.neverOpened(id)) return this.connError(ErrorCode.PROTOCOL_ERROR, `${what} for an idle stream`);
    if (!this.ids.wasReset(id)) this.writeReset(id, ErrorCode.STREAM_CLOSED);
  }

  protected onStreamFault(id: number, code: number, why: string): void {
    const s = this.streams.get(id);
    if (s !== undefined) return this.streamError(s, code, why);
    // RST_STREAM must not name an idle stream (§6.4).
    if (id > this.ids.last) return this.connError(code, why);
    this.writeReset(id, code);
  }

  protected streamError(s: RawH2ServerStream, code: number, _why: string): void {
    this.writeReset(s.id, code);
    this.ids.noteReset(s.id);
    this.retire(s, code, true);
  }

  protected onReset(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.ids.last || (id & 1) === 0) this.connError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM for an idle stream");
      return;
    }
    if (!this.resets.take()) return this.connError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream resets");
    this.ids.noteReset(id);
    this.retire(s, code, true);
  }

  protected onPeerSetting(key: number, value: number): boolean {
    if (key === Setting.HEADER_TABLE_SIZE) {
      this.enc.setMaxTableSize(value);
    } else if (key === Setting.ENABLE_PUSH && value > 1) {
      this.connError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH not 0 or 1");
      return false;
    }
    return true;
  }

  protected afterPeerSettings(): void {
    this.ackQueued();
  }

  protected override ackQueued(): void {
    // A client that floods PING/SETTINGS and never reads makes us buffer ACKs without bound.
    if (++this.owedAcks > MAX_OWED_ACKS && this.socket.writableLength > 0) {
      this.connError(ErrorCode.ENHANCE_YOUR_CALM, "too many unread control-frame ACKs");
    }
  }

  protected override afterFlush(): void {
    const queued = this.socket.writableLength;
    if (queued === 0) {
      this.owedAcks = 0;
    } else if (queued > READ_PAUSE_BYTES && !this.readPaused) {
      // Responses the client does not read (header-only ones are not flow-controlled): stop reading
      // its requests, and starting those already read, until the socket drains, so that it cannot
      // make us queue without bound.
      this.readPaused = true;
      this.starts.held = true;
      this.socket.pause();
    }
    super.afterFlush();
  }

  protected onWindowUpdateForGone(id: number): void {
    if (id > this.ids.last || (id & 1) === 0) this.connError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE for an idle stream");
  }

  protected onGoaway(_lastId: number, _code: number): void {
    // The client opens no more streams; those in flight finish, and it closes the socket.
  }

  protected onPingAck(): void {
    // We send no PINGs.
  }

  // ------------------------------------------------------------------------------------ send side

  /** Response HEADERS (END_STREAM when `endStream`). */
  respond(s: RawH2ServerStream, headers: OutgoingHttpHeaders, endStream: boolean): void {
    if (this.streams.get(s.id) !== s) return;
    s.headersSent = true;
    this.writeHeaderBlock(s.id, this.enc.encodeResponse(headers), endStream, this.peerMaxFrame);
    if (endStream) {
      s.localEnded = true;
      this.sentEnd(s);
    }
  }

  /** Trailers end the response (after its body, which bodySent() signalled). */
  sendTrailers(s: RawH2ServerStream, trailers: OutgoingHttpHeaders): void {
    if (this.streams.get(s.id) !== s || s.sendQueue.length > 0) return;
    let any = false;
    for (const _ in trailers) {
      any = true;
      break;
    }
    // No trailers after all: END_STREAM on an empty DATA frame rather than an empty header block.
    if (any) this.writeHeaderBlock(s.id, this.enc.encodeResponse(trailers), true, this.peerMaxFrame);
    else {
      this.out.header(0, FrameType.DATA, Flag.END_STREAM, s.id);
      this.scheduleFlush();
    }
    this.sentEnd(s);
  }

  protected override bodySent(s: RawH2ServerStream): void {
    s.emitWantTrailers();
  }

  protected sentEnd(s: RawH2ServerStream): void {
    s.endSent = true;
    if (s.remoteEnded) return this.retire(s, ErrorCode.NO_ERROR, false);
    // A complete response while the request body is still coming: the client may stop sending (§8.1).
    this.writeReset(s.id, ErrorCode.NO_ERROR);
    this.ids.noteReset(s.id);
    this.retire(s, ErrorCode.NO_ERROR, false);
  }

  /** The router's reset(): RST_STREAM(code) unless already off the wire. */
  resetStream(s: RawH2ServerStream, code: number): void {
    if (this.streams.get(s.id) === s) {
      this.writeReset(s.id, code);
      this.ids.noteReset(s.id);
    }
    this.retire(s, code, code !== ErrorCode.NO_ERROR || !s.endSent);
  }

  /** Takes `s` off the wire. */
  private retire(s: RawH2ServerStream, code: number, aborted: boolean): void {
    if (this.streams.get(s.id) === s) {
      this.streams.delete(s.id);
      if (this.goingAway && this.streams.size === 0 && !this.closed) this.endSocket();
    }
    s.markClosed(code, aborted);
  }

  protected connError(code: number, _why: string): void {
    if (this.closed) return;
    this.writeGoaway(code, this.ids.last);
    this.endSocket();
  }

  /** The socket closed: every stream still open is aborted. */
  private die(): void {
    this.closed = true;
    this.out.clear();
    for (const s of this.streams.list()) {
      this.streams.delete(s.id);
      s.markClosed(ErrorCode.CANCEL, true);
    }
    this.starts.stopped = true;
    this.blockedStreams.length = 0;
    this.drainWaiters.length = 0;
    this.emit("close");
  }
}
