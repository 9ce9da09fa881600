/**
 * The receive half of one stream of our HTTP/2 connections (client and server): the body as 'data',
 * once per DATA frame, then its end. A paused stream holds what arrives in an inbox, and its connection
 * credits the peer (WINDOW_UPDATE) only for bytes handed to a 'data' listener, so a slow consumer holds
 * the peer to one stream window of buffered body.
 *
 * The two halves differ on purpose in when held body flows again and whether a paused stream may end;
 * each says so in two getters (deliversOnResume, endWaitsForResume) rather than in a copy of this file.
 */
import { EventEmitter } from "node:events";
import type { ReceiveStream } from "./receive-flow.js";

/** What a stream's inbox needs of its connection. */
export interface ReceiveCredit {
  /** The consumer took `n` bytes of `s`'s body: the peer may be credited. */
  consumed(s: ReceiveStream, n: number): void;
}

export abstract class InboxStream<C extends ReceiveCredit> extends EventEmitter implements ReceiveStream {
  abstract readonly id: number;
  /** Closed (reset, finished, or its connection died): nothing more is delivered. */
  destroyed = false;
  /** What the peer may still send before we credit more. */
  recvWindow = 0;
  /** Bytes the consumer has taken and we have not yet credited. */
  recvUnacked = 0;
  /** content-length of the body, -1 when absent or not checkable. */
  contentLength = -1;
  /** Body bytes received so far. */
  received = 0;
  /** END_STREAM received: the body is complete on the wire. */
  remoteEnded = false;
  /** DATA waits in the inbox, uncredited, until resume(). */
  paused: boolean;
  /** DATA held while paused, in order; 'end' follows once they are taken. */
  inbox: Buffer[] = [];
  /** 'end' was emitted, or is not owed (a request whose HEADERS ended it: the router knows from the flags). */
  endEmitted = false;

  constructor(
    /** The connection the stream is on. */
    readonly conn: C,
    paused: boolean,
  ) {
    super();
    this.paused = paused;
  }

  /** resume() delivers the held body before it returns, rather than on a later turn. */
  protected abstract get deliversOnResume(): boolean;
  /** A paused stream whose inbox is empty keeps its 'end' until resume(), rather than ending at once. */
  protected abstract get endWaitsForResume(): boolean;
  /** The body is over and taken: 'end' (and whatever else the stream's API puts with it). */
  protected abstract emitEnd(): void;
  /** One body chunk to the consumer: 'data', or a direct call to a sink the subclass knows. */
  protected abstract emitData(chunk: Buffer): void;

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    if (this.inbox.length > 0 || (this.remoteEnded && !this.endEmitted)) {
      if (this.deliversOnResume) this.drainInbox();
      else setImmediate(drainLater, this);
    }
    return this;
  }

  // ---- called by the connection

  /** One DATA payload: to the listener now, or to the inbox while paused. */
  deliver(chunk: Buffer): void {
    if (this.paused || this.inbox.length > 0) {
      this.inbox.push(chunk);
      return;
    }
    this.emitData(chunk);
    this.conn.consumed(this, chunk.length);
  }

  /** The body is complete on the wire; 'end' follows once the consumer took it. */
  finishRemote(): void {
    if (this.inbox.length === 0 && !(this.paused && this.endWaitsForResume)) this.emitEnd();
  }

  /** Delivers what the inbox holds while the consumer keeps flowing, then 'end' if it is due. */
  drainInbox(): void {
    const inbox = this.inbox;
    let i = 0;
    while (i < inbox.length && !this.paused && !this.destroyed) {
      const chunk = inbox[i++];
      this.emitData(chunk);
      this.conn.consumed(this, chunk.length);
    }
    if (i > 0) inbox.splice(0, i);
    if (inbox.length === 0 && this.remoteEnded && !this.paused) this.emitEnd();
  }
}

function drainLater(s: InboxStream<ReceiveCredit>): void {
  s.drainInbox();
}
