/**
 * One request/response exchange on our HTTP/2 server, handed to the router as its Downstream directly
 * (no adapter object per request). An EventEmitter with the events of node's ServerHttp2Stream that
 * the router listens to ('data', 'end', 'close', 'wantTrailers', 'drain'), without the Duplex
 * machinery: 'data' fires once per DATA frame, straight from the socket's read.
 *
 * Flow control is driven by the router: a paused stream keeps what arrives and credits the client
 * (WINDOW_UPDATE) only for bytes handed to a 'data' listener, so a slow upstream holds the client to
 * one stream window of buffered request body.
 */
import { EventEmitter } from "node:events";
import type { OutgoingHttpHeaders } from "node:http2";
import type { SendStream } from "../../h2/send-flow.js";
import type { Downstream } from "../downstream.js";
import type { RawH2ServerConnection } from "./raw-h2-server-connection.js";

export class RawH2ServerStream extends EventEmitter implements SendStream, Downstream {
  /** RST_STREAM code once closed: received, sent, or NO_ERROR after a clean exchange. */
  rstCode: number | undefined = undefined;
  destroyed = false;
  // ---- send side (the connection's business)
  sendWindow = 0;
  sendQueue: Buffer[] = [];
  sendOffset = 0;
  localEnded = false;
  endSent = false;
  /** Responded with waitForTrailers: the body ends in 'wantTrailers', then sendTrailers(). */
  endsWithTrailers = false;
  needDrain = false;
  blocked = false;
  /** Response HEADERS are on the wire. */
  headersSent = false;
  // ---- receive side
  /** What the client may still send before we credit more. */
  recvWindow = 0;
  /** Bytes the router has taken and we have not yet credited. */
  recvUnacked = 0;
  /** content-length of the request, -1 when absent. */
  contentLength = -1;
  received = 0;
  /** END_STREAM received: the request is complete. */
  remoteEnded = false;
  /** The request was reset by the client, or its connection died before the exchange completed. */
  aborted = false;
  /**
   * Paused from the start: body that arrives before the router attached its listeners (in the same
   * read as the HEADERS) waits in the inbox until the router resumes the stream.
   */
  paused = true;
  /** DATA held while paused, in order; 'end' follows once they are taken. */
  inbox: Buffer[] = [];
  /** 'end' was emitted, or is not owed (END_STREAM on the HEADERS: the router knows from the flags). */
  endEmitted = false;

  constructor(
    /** Stream id on the wire. */
    readonly id: number,
    /** The connection; its socket is the downstream's socket. */
    readonly conn: RawH2ServerConnection,
  ) {
    super();
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

  // ---- the request body, as the router reads it

  pause(): this {
    this.paused = true;
    return this;
  }

  /**
   * Delivers what waited, at once: the router resumes when it has somewhere to write (an upstream
   * stream that just opened or drained), and a body plus its end going out in the same turn as the
   * request HEADERS saves the upstream a round of event-loop turns. Re-entry is safe: the router
   * pauses the stream inside 'data' when the upstream is full, which stops this loop.
   */
  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    if (this.inbox.length > 0 || (this.remoteEnded && !this.endEmitted)) this.drainInbox();
    return this;
  }

  // ---- called by the connection

  /** One DATA payload: to the listener now, or to the inbox while paused. */
  deliver(chunk: Buffer): void {
    if (this.paused || this.inbox.length > 0) {
      this.inbox.push(chunk);
      return;
    }
    this.emit("data", chunk);
    this.conn.consumed(this, chunk.length);
  }

  /** The request is complete on the wire; 'end' follows once the router took the body. */
  finishRemote(): void {
    if (this.inbox.length === 0 && !this.paused) this.emitEnd();
  }

  /** Delivers what the inbox holds while the router keeps flowing. */
  drainInbox(): void {
    const inbox = this.inbox;
    let i = 0;
    while (i < inbox.length && !this.paused && !this.destroyed) {
      const chunk = inbox[i++];
      this.emit("data", chunk);
      this.conn.consumed(this, chunk.length);
    }
    if (i > 0) inbox.splice(0, i);
    if (inbox.length === 0 && this.remoteEnded && !this.paused) this.emitEnd();
  }

  private emitEnd(): void {
    if (this.endEmitted || this.aborted) return;
    this.endEmitted = true;
    this.emit("end");
  }

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
  s.emit("close");
}
