/**
 * When the streams of our HTTP/2 server start routing: after the socket read that opened them is
 * parsed whole, so a stream the client reset in the same read (rapid reset, CVE-2023-44487) is dropped
 * without touching an upstream; and at most `perTurn` per connection per event-loop turn (Envoy's
 * max_requests_per_io_cycle), the rest on later turns, dropped there if reset meanwhile.
 */
import type { IncomingHttpHeaders } from "node:http2";
import type { RawH2ServerStream } from "./raw-h2-server-stream.js";

/** Who gets the streams of a connection. */
export interface RawH2StreamSink {
  /** A new, validated request: route it. `flags` has END_STREAM when the request has no body. */
  onStream(stream: RawH2ServerStream, headers: IncomingHttpHeaders, flags: number): void;
  /** A request the client reset before it was started: counted, never routed. */
  onDropped(stream: RawH2ServerStream): void;
}

interface Pending {
  readonly stream: RawH2ServerStream;
  readonly headers: IncomingHttpHeaders;
  readonly flags: number;
}

/** One connection's new streams, waiting for the end of the read or for a turn's budget. */
export class StreamStarts {
  private pending: Pending[] = [];
  private startedThisTurn = 0;
  private turnScheduled = false;
  private readonly nextTurnFn = (): void => this.nextTurn();
  /** Set when the connection closed: nothing more starts. */
  stopped = false;
  /** Set while the client does not read our responses: nothing more starts until it does. */
  held = false;

  constructor(
    /** Streams started per turn. */
    private readonly perTurn: number,
    private readonly sink: RawH2StreamSink,
  ) {}

  /** A stream whose HEADERS were just parsed. */
  add(stream: RawH2ServerStream, headers: IncomingHttpHeaders, flags: number): void {
    this.pending.push({ stream, headers, flags });
  }

  /** The read is parsed: start what the budget allows. */
  afterRead(): void {
    if (this.pending.length > 0 && !this.stopped && !this.held) this.run();
  }

  private run(): void {
    const list = this.pending;
    let i = 0;
    for (; i < list.length && this.startedThisTurn < this.perTurn; i++) {
      const p = list[i];
      if (p.stream.destroyed) {
        this.sink.onDropped(p.stream);
        continue;
      }
      this.startedThisTurn++;
      this.sink.onStream(p.stream, p.headers, p.flags);
    }
    if (i === list.length) {
      list.length = 0;
    } else {
      // Reset streams later in the list cost nothing to drop now, and dropping them frees memory.
      this.pending = list.slice(i).filter((p) => {
        if (!p.stream.destroyed) return true;
        this.sink.onDropped(p.stream);
        return false;
      });
    }
    if (this.startedThisTurn > 0 && !this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(this.nextTurnFn);
    }
  }

  private nextTurn(): void {
    this.turnScheduled = false;
    this.startedThisTurn = 0;
    this.afterRead();
  }
}
