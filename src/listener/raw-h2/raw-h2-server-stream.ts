/**
 * One request/response exchange on our HTTP/2 server, handed to the router as its Downstream directly
 * (no adapter object per request). An EventEmitter with the events of node's ServerHttp2Stream that
 * the router listens to ('data', 'end', 'close', 'wantTrailers', 'drain'), without the Duplex
 * machinery: 'data' fires once per DATA frame, straight from the socket's read.
 *
 * Flow control is driven by the router: a paused stream keeps what arrives and credits the client
 * (WINDOW_UPDATE) only for bytes handed to a 'data' listener, so a slow upstream holds the client to
 * one stream window of buffered request body.
 *
 * The router takes 'data', 'end', 'close' and 'wantTrailers' by direct call (`sink`) rather than
 * through four listeners registered per request; with no sink they are emitted.
 */
import type { OutgoingHttpHeaders } from "node:http2";
import type { SendStream } from "../../h2/send-flow.js";
import { InboxStream } from "../../h2/stream-inbox.js";
import type { Downstream } from "../downstream.js";
import type { RawH2ServerConnection } from "./raw-h2-server-connection.js";

/** Takes a stream's events by direct call, in the order they would be emitted. */
export interface RawH2ServerStreamSink {
  /** 'data': one DATA payload of the request body. */
  onReqData(chunk: Buffer): void;
  /** 'end': the request body is complete. */
  onReqEnd(): void;
  /** 'close': the stream is over (completed, reset, or its connection died). */
  onDownstreamClose(): void;
  /** 'wantTrailers': the response body is out; trailers may follow. */
  onWantTrailers(): void;
}

export class RawH2ServerStream extends InboxStream<RawH2ServerConnection> implements SendStream, Downstream {
  /** RST_STREAM code once closed: received, sent, or NO_ERROR after a clean exchange. */
  rstCode: number | undefined = undefined;
  // ---- send side (the connection's business)
  sendWindow = 0;
  sendQueue: Buffer[] = [];
  sendOffset = 0;
  lastDataPos = 0;
  lastDataEpoch = -1;
  localEnded = false;
  endSent = false;
  /** Responded with waitForTrailers: the body ends in 'wantTrailers', then sendTrailers(). */
  endsWithTrailers = false;
  needDrain = false;
  blocked = false;
  /** Response HEADERS are on the wire. */
  headersSent = false;
  // ---- receive side (the body and its window are InboxStream's)
  /** The request was reset by the client, or its connection died before the exchange completed. */
  aborted = false;
  /** Where the events go instead of listeners; null: emitted as events. The consumer sets and clears it. */
  sink: RawH2ServerStreamSink | null = null;

  constructor(
    /** Stream id on the wire. */
    readonly id: number,
    /** The connection; its socket is the downstream's socket. */
    conn: RawH2ServerConnection,
  ) {
    // Paused from the start: body that arrives before the router attached its listeners (in the same
    // read as the HEADERS) waits in the inbox until the router resumes the stream.
    super(conn, true);
  }

  // ---- Downstream

  get closed(): boolean {
    return this.destroyed;
  }
  get canTrailers(): boolean {
    return true;
  }
  get endIsFinal(): boolean {
    return true;
  }
  get body(): this {
    return this;
  }

  respond(headers: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean): void {
    if (this.destroyed || this.headersSent) return;
    this.endsWithTrailers = waitForTrailers && !endStream;
    this.conn.respond(this, headers, endStream);
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || this.localEnded || !this.headersSent) return true;
    return this.conn.writeData(this, chunk);
  }

  onceDrain(fn: () => void): void {
    this.once("drain", fn);
  }

  end(): void {
    if (this.destroyed || this.localEnded) return;
    this.localEnded = true;
    this.conn.endData(this);
  }

  sendTrailers(trailers: OutgoingHttpHeaders): void {
    if (this.destroyed || this.endSent) return;
    this.conn.sendTrailers(this, trailers);
  }

  reset(code: number): void {
    if (this.destroyed) return;
    this.conn.resetStream(this, code);
  }

  // ---- the request body, as the router reads it (pause() and resume() are InboxStream's)

  /**
   * resume() delivers what waited at once: the router resumes when it has somewhere to write (an
   * upstream stream that just opened or drained), and a body plus its end going out in the same turn
   * as the request HEADERS saves the upstream a round of event-loop turns. Re-entry is safe: the router
   * pauses the stream inside 'data' when the upstream is full, which stops the delivery loop.
   */
  protected get deliversOnResume(): boolean {
    return true;
  }

  /** The stream is paused until the router listens: an 'end' before that would be lost. */
  protected get endWaitsForResume(): boolean {
    return true;
  }

  protected emitEnd(): void {
    if (this.endEmitted || this.aborted) return;
    this.endEmitted = true;
    const k = this.sink;
    if (k !== null) k.onReqEnd();
    else this.emit("end");
  }

  protected emitData(chunk: Buffer): void {
    const k = this.sink;
    if (k !== null) k.onReqData(chunk);
    else this.emit("data", chunk);
  }

  /** 'wantTrailers'. */
  emitWantTrailers(): void {
    const k = this.sink;
    if (k !== null) k.onWantTrailers();
    else this.emit("wantTrailers");
  }

  /** 'close'. */
  emitClose(): void {
    const k = this.sink;
    if (k !== null) k.onDownstreamClose();
    else this.emit("close");
  }

  // ---- called by the connection

  /**
   * Off the wire. `aborted`: by a reset or a dead connection (no 'end'). 'close' comes on the next
   * tick: the caller may be the router itself, in the middle of settling the request.
   */
  markClosed(code: number, aborted: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.rstCode = code;
    this.sendQueue.length = 0;
    if (aborted) {
      this.aborted = true;
      this.inbox.length = 0;
    }
    process.nextTick(emitClose, this);
  }
}

function emitClose(s: RawH2ServerStream): void {
  s.emitClose();
}
