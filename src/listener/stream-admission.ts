/**
 * Envoy's `http.max_requests_per_io_cycle`, for HTTP/2 downstreams: at most `perTurn` new streams of
 * one connection start routing in one event-loop turn; the rest wait for the next turn, and those the
 * client reset meanwhile are dropped without touching an upstream.
 *
 * Why: nghttp2 parses a whole socket read (~64 KiB, ~500 HEADERS+RST_STREAM pairs in a rapid-reset
 * attack, CVE-2023-44487) before the resets become visible, and each stream routed opens (and then
 * resets) an upstream stream. Without this, four attacking connections stalled the event loop for
 * seconds before nghttp2's reset limit sent its GOAWAY; deferred, a reset stream costs almost nothing.
 */
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from "node:http2";

/**
 * New streams one HTTP/2 connection may start routing per event-loop turn (Envoy's
 * max_requests_per_io_cycle, off there by default): high enough that a busy gRPC channel never waits,
 * low enough that a rapid-reset read of ~500 streams mostly waits a turn and is dropped once reset.
 */
export const MAX_STREAMS_PER_TURN = 32;

/** Starts one stream's routing. */
export type StreamStarter = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void;

interface Deferred {
  readonly stream: ServerHttp2Stream;
  readonly headers: IncomingHttpHeaders;
  readonly flags: number;
}

/** Per-connection budget and queue. */
interface SessionState {
  startedThisTurn: number;
  queue: Deferred[];
  scheduled: boolean;
}

/** Admits new streams to routing, `perTurn` per connection per event-loop turn. */
export class StreamAdmission {
  private readonly sessions = new WeakMap<ServerHttp2Session, SessionState>();

  constructor(
    /** New streams per connection routed in one turn (Envoy's max_requests_per_io_cycle). */
    private readonly perTurn: number,
    /** Routes a stream. */
    private readonly start: StreamStarter,
    /** Called for a deferred stream the client reset before its turn came. */
    private readonly dropped: (stream: ServerHttp2Stream) => void,
  ) {}

  /** A new stream from the HTTP/2 server's 'stream' event. */
  admit(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    const session = stream.session as ServerHttp2Session | undefined;
    if (session === undefined) return;
    let st = this.sessions.get(session);
    if (st === undefined) {
      st = { startedThisTurn: 0, queue: [], scheduled: false };
      this.sessions.set(session, st);
    }
    if (st.startedThisTurn < this.perTurn && st.queue.length === 0) {
      st.startedThisTurn++;
      this.schedule(st);
      this.start(stream, headers, flags);
      return;
    }
    // A waiting stream must not raise an unhandled 'error' before the router attaches its handlers.
    stream.on("error", ignore);
    st.queue.push({ stream, headers, flags });
    this.schedule(st);
  }

  /** Opens the next turn's budget (and runs the queue) once per turn that saw streams. */
  private schedule(st: SessionState): void {
    if (st.scheduled) return;
    st.scheduled = true;
    setImmediate(() => this.nextTurn(st));
  }

  private nextTurn(st: SessionState): void {
    st.scheduled = false;
    st.startedThisTurn = 0;
    if (st.queue.length === 0) return;
    const queue = st.queue;
    let i = 0;
    for (; i < queue.length && st.startedThisTurn < this.perTurn; i++) {
      const d = queue[i];
      if (d.stream.closed || d.stream.destroyed) {
        this.dropped(d.stream);
        continue;
      }
      st.startedThisTurn++;
      this.start(d.stream, d.headers, d.flags);
    }
    // Reset streams later in the queue cost nothing to drop now, and dropping them frees memory.
    st.queue = queue.slice(i).filter((d) => {
      if (!d.stream.closed && !d.stream.destroyed) return true;
      this.dropped(d.stream);
      return false;
    });
    if (st.queue.length > 0 || st.startedThisTurn > 0) this.schedule(st);
  }
}

function ignore(): void {
  // Stream errors surface through 'close'.
}
