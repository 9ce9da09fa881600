/**
 * One request/response exchange on a RawH2Connection, as the router's UpstreamStream. An EventEmitter
 * with node's ClientHttp2Stream events ('response', 'data', 'trailers', 'end', 'close', 'drain'), but
 * without the Duplex machinery: 'data' fires once per DATA frame, straight from the socket's read.
 *
 * Flow control is driven by the consumer: a paused stream keeps what arrives and credits the peer
 * (WINDOW_UPDATE) only for bytes handed to a 'data' listener, so a slow downstream holds the upstream
 * to one stream window of buffered data.
 */
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http2";
import type { UpstreamStream } from "../upstream-pool.js";
import { ErrorCode, Flag } from "../../h2/frames.js";
import type { SendStream } from "../../h2/send-flow.js";
import type { RawH2Connection } from "./raw-h2-connection.js";

export class RawH2Stream extends EventEmitter implements UpstreamStream, SendStream {
  /** Stream id on the wire. */
  id = 0;
  /** RST_STREAM code once closed: received, sent, or NO_ERROR after a clean end. */
  rstCode: number | undefined = undefined;
  destroyed = false;
  // ---- send side (the connection's business; public for it, not for consumers)
  /** What the peer still lets us send on this stream. */
  sendWindow = 0;
  /** Chunks accepted by write() that no window had room for yet; the first starts at `sendOffset`. */
  sendQueue: Buffer[] = [];
  sendOffset = 0;
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
  // ---- receive side
  /** What the peer may still send before we credit more. */
  recvWindow = 0;
  /** Bytes the consumer has taken and we have not yet credited. */
  recvUnacked = 0;
  /** Response :status once the final response headers arrived. */
  status = 0;
  /** content-length of the response, -1 when absent or not checkable (HEAD, 204, 304). */
  contentLength = -1;
  received = 0;
  /** The request was HEAD: a content-length says nothing about the body. */
  isHead = false;
  /** END_STREAM received; the stream is off the wire. */
  remoteEnded = false;
  trailers: IncomingHttpHeaders | undefined = undefined;
  paused = false;
  /** DATA held while paused, in order; 'end' follows once they are taken. */
  inbox: Buffer[] = [];
  private conn: RawH2Connection | null;

  constructor(conn: RawH2Connection) {
    super();
    this.conn = conn;
  }

  /** The connection while it lives; undefined once it died (the router treats CANCEL on a dead connection as a failure). */
  get session(): RawH2Connection | undefined {
    const c = this.conn;
    return c === null || c.dead ? undefined : c;
  }

  write(chunk: Buffer): boolean {
    const c = this.conn;
    if (this.destroyed || this.localEnded || c === null) return true;
    return c.writeData(this, chunk);
  }

  end(): void {
    const c = this.conn;
    if (this.destroyed || this.localEnded || c === null) return;
    this.localEnded = true;
    c.endData(this);
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    // Deliver on a later turn, as node does: the caller is often inside the downstream's 'drain'.
    if (this.inbox.length > 0 || this.remoteEnded) setImmediate(deliverInbox, this);
    return this;
  }

  close(code: number = ErrorCode.NO_ERROR): void {
    if (this.destroyed) return;
    this.conn?.resetStream(this, code);
  }

  // ---- called by the connection

  /** One DATA payload: to the listener now, or to the inbox while paused. */
  deliver(chunk: Buffer): void {
    if (this.paused || this.inbox.length > 0) {
      this.inbox.push(chunk);
      return;
    }
    this.emit("data", chunk);
    this.conn?.consumed(this, chunk.length);
  }

  /** The response is complete on the wire; 'end' and 'close' follow once the consumer took the body. */
  finishRemote(): void {
    if (this.inbox.length === 0) this.emitEnd();
  }

  /** Delivers what the inbox holds while the consumer keeps flowing. */
  drainInbox(): void {
    const inbox = this.inbox;
    let i = 0;
    while (i < inbox.length && !this.paused && !this.destroyed) {
      const chunk = inbox[i++];
      this.emit("data", chunk);
      this.conn?.consumed(this, chunk.length);
    }
    if (i > 0) inbox.splice(0, i);
    if (inbox.length === 0 && this.remoteEnded && !this.destroyed && !this.paused) this.emitEnd();
  }

  private emitEnd(): void {
    if (this.destroyed) return;
    if (this.trailers !== undefined) this.emit("trailers", this.trailers, Flag.END_STREAM | Flag.END_HEADERS);
    this.emit("end");
    this.markClosed(ErrorCode.NO_ERROR);
    this.emit("close");
  }

  /** Closed by a reset (either side) or a dead connection: no 'end', just 'close'. */
  abort(code: number): void {
    if (this.destroyed) return;
    this.inbox.length = 0;
    this.markClosed(code);
    this.emit("close");
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

function deliverInbox(s: RawH2Stream): void {
  s.drainInbox();
}

function emitClose(s: RawH2Stream): void {
  s.emit("close");
}
