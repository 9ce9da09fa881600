/**
 * One request/response exchange on a RawH2Connection, as the router's UpstreamStream. An EventEmitter
 * with node's ClientHttp2Stream events ('response', 'data', 'trailers', 'end', 'close', 'drain'), but
 * without the Duplex machinery: 'data' fires once per DATA frame, straight from the socket's read.
 *
 * Flow control is driven by the consumer: a paused stream keeps what arrives and credits the peer
 * (WINDOW_UPDATE) only for bytes handed to a 'data' listener, so a slow downstream holds the upstream
 * to one stream window of buffered data.
 *
 * The router takes the events by direct call instead (`sink`): six listeners registered per request
 * were ~0.5 KB of garbage and a few per cent of the proxy's CPU. With no sink, the events are emitted.
 * 'drain' stays an event: it only fires under backpressure.
 */
import type { IncomingHttpHeaders } from "node:http2";
import type { UpstreamStream } from "../upstream-pool.js";
import { ErrorCode, Flag } from "../../h2/frames.js";
import type { SendStream } from "../../h2/send-flow.js";
import { InboxStream } from "../../h2/stream-inbox.js";
import type { RawH2Connection } from "./raw-h2-connection.js";

/** Takes a stream's events by direct call, in the order they would be emitted. */
export interface RawH2StreamSink {
  /** 'response': the final response headers (`flags` has END_STREAM for a headers-only response). */
  onUpResponse(s: RawH2Stream, headers: IncomingHttpHeaders, flags: number): void;
  /** 'data': one DATA payload. */
  onUpData(s: RawH2Stream, chunk: Buffer): void;
  /** 'trailers': the trailer block, just before the end. */
  onUpTrailers(s: RawH2Stream, trailers: IncomingHttpHeaders): void;
  /** 'end': the response is complete. */
  onUpEnd(s: RawH2Stream): void;
  /** 'close': the stream is over (after the end, or a reset or a dead connection without one). */
  onUpClose(s: RawH2Stream): void;
}

export class RawH2Stream extends InboxStream<RawH2Connection> implements UpstreamStream, SendStream {
  /** Stream id on the wire. */
  id = 0;
  /** RST_STREAM code once closed: received, sent, or NO_ERROR after a clean end. */
  rstCode: number | undefined = undefined;
  // ---- send side (the connection's business; public for it, not for consumers)
  /** What the peer still lets us send on this stream. */
  sendWindow = 0;
  /** Chunks accepted by write() that no window had room for yet; the first starts at `sendOffset`. */
  sendQueue: Buffer[] = [];
  sendOffset = 0;
  lastDataPos = 0;
  lastDataEpoch = -1;
  /** end() was called (END_STREAM goes out with the last queued chunk). */
  localEnded = false;
  /** END_STREAM is on the wire. */
  endSent = false;
  /** Requests end with END_STREAM on their last DATA frame, never in trailers. */
  readonly endsWithTrailers = false;
  /** write() returned false; 'drain' is owed. */
  needDrain = false;
  /** In the connection's list of streams waiting for window. */
  blocked = false;
  // ---- receive side (the body and its window are InboxStream's)
  /** Response :status once the final response headers arrived. */
  status = 0;
  /** The request was HEAD: a content-length says nothing about the body. */
  isHead = false;
  trailers: IncomingHttpHeaders | undefined = undefined;
  /** Where the events go instead of listeners; null: emitted as events. The consumer sets and clears it. */
  sink: RawH2StreamSink | null = null;

  constructor(conn: RawH2Connection) {
    super(conn, false);
  }

  /** The connection while it lives; undefined once it died (the router treats CANCEL on a dead connection as a failure). */
  get session(): RawH2Connection | undefined {
    return this.conn.dead ? undefined : this.conn;
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || this.localEnded) return true;
    return this.conn.writeData(this, chunk);
  }

  end(): void {
    if (this.destroyed || this.localEnded) return;
    this.localEnded = true;
    this.conn.endData(this);
  }

  close(code: number = ErrorCode.NO_ERROR): void {
    if (this.destroyed) return;
    this.conn.resetStream(this, code);
  }

  /** Held body flows a turn later, as node delivers it: the caller is often inside the downstream's 'drain'. */
  protected get deliversOnResume(): boolean {
    return false;
  }

  /** A response ends as soon as nothing is held, paused or not (the router forwards the end behind the body). */
  protected get endWaitsForResume(): boolean {
    return false;
  }

  // ---- called by the connection

  /** The final response headers arrived. */
  emitResponse(headers: IncomingHttpHeaders, flags: number): void {
    const k = this.sink;
    if (k !== null) k.onUpResponse(this, headers, flags);
    else this.emit("response", headers, flags);
  }

  protected emitData(chunk: Buffer): void {
    const k = this.sink;
    if (k !== null) k.onUpData(this, chunk);
    else this.emit("data", chunk);
  }

  /** 'trailers' (if any), 'end', then 'close': the exchange is over. */
  protected emitEnd(): void {
    if (this.destroyed) return;
    this.endEmitted = true;
    // Each step may end the consumer's interest (it clears the sink): read it again every time.
    if (this.trailers !== undefined) {
      const k = this.sink;
      if (k !== null) k.onUpTrailers(this, this.trailers);
      else this.emit("trailers", this.trailers, Flag.END_STREAM | Flag.END_HEADERS);
    }
    const k = this.sink;
    if (k !== null) k.onUpEnd(this);
    else this.emit("end");
    this.markClosed(ErrorCode.NO_ERROR);
    this.emitClose();
  }

  /** Closed by a reset (either side) or a dead connection: no 'end', just 'close'. */
  abort(code: number): void {
    if (this.destroyed) return;
    this.inbox.length = 0;
    this.markClosed(code);
    this.emitClose();
  }

  /** 'close'. */
  emitClose(): void {
    const k = this.sink;
    if (k !== null) k.onUpClose(this);
    else this.emit("close");
  }

  /** Like abort(), with 'close' on the next tick: the caller is the consumer itself (close()). */
  abortSoon(code: number): void {
    if (this.destroyed) return;
    this.inbox.length = 0;
    this.markClosed(code);
    process.nextTick(emitClose, this);
  }

  private markClosed(code: number): void {
    this.destroyed = true;
    this.rstCode = code;
    this.sendQueue.length = 0;
  }
}

function emitClose(s: RawH2Stream): void {
  s.emitClose();
}
