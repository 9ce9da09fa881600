/**
 * The contract between the router and a host's connection pool, whatever the upstream protocol.
 * The router hands itself in as PoolWaiter (no closure per request); the pool calls back exactly once.
 */
import type { OutgoingHttpHeaders } from "node:http2";

/**
 * The upstream stream as the router sees it: node:http2's ClientHttp2Stream satisfies it as is, and
 * the HTTP/1.1 pool adapts a ClientRequest to it. Events: 'response' (headers, flags), 'data',
 * 'end', 'trailers' (headers), 'drain', 'error', 'close'.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors EventEmitter's own listener type
type Listener = (...args: any[]) => void;

export interface UpstreamStream {
  on(event: string, listener: Listener): this;
  once(event: string, listener: Listener): this;
  removeListener(event: string, listener: Listener): this;
  write(chunk: Buffer): boolean;
  end(): void;
  pause(): this;
  resume(): this;
  /** Resets the stream with an HTTP/2 error code (HTTP/1.1: destroys the request). */
  close(code?: number): void;
  /** RST_STREAM code once closed. */
  readonly rstCode?: number | undefined;
  readonly destroyed: boolean;
  /** The connection, while it lives (node:http2 clears it when the session is destroyed). */
  readonly session?: object | undefined;
  /** Set by pools whose connection is made per stream (HTTP/1.1) when that connection failed. */
  readonly connectFailed?: boolean;
}

/** Why no stream could be opened ("tls-failure": TCP connected, the TLS handshake or verification failed). */
export type PoolFailure = "connect-failure" | "tls-failure" | "connect-timeout" | "overflow" | "closed";

/** What the pool calls back when a request got (or cannot get) a stream. */
export interface PoolWaiter {
  /** A stream is open with the request headers sent; body and response are the caller's business. */
  onPoolReady(stream: UpstreamStream): void;
  /** No stream will come for this request. */
  onPoolFailure(reason: PoolFailure): void;
}

/** A host's connections. Streams are UpstreamStreams. */
export interface UpstreamPool {
  /**
   * Opens a stream for `headers` now if a connection has room, else queues the waiter until one
   * does or fails. `endStream` says the request has no body.
   */
  request(headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void;
  /** Removes a queued waiter (the downstream went away before a stream came). */
  cancel(waiter: PoolWaiter): void;
  /** Number of open connections. */
  readonly connections: number;
  /** Graceful: no new streams, close connections once their streams finish. */
  close(): void;
  /** Forceful: destroy every connection now. */
  destroy(): void;
}
