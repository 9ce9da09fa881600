/**
 * The downstream side of one request, whichever protocol brought it: an HTTP/2 stream, or an
 * HTTP/1.1 request/response pair (forwarded upstream over HTTP/2 like any other request).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";

/** The request body as the router reads it: node's Readable, or our HTTP/2 server's stream. */
export interface DownstreamBody {
  /** 'data' (a chunk) and 'end' (the request is complete). */
  on(event: "data" | "end", fn: (chunk: Buffer) => void): unknown;
  removeListener(event: "data" | "end", fn: (chunk: Buffer) => void): unknown;
  /** Stops 'data' (and, on HTTP/2, the flow-control credit that lets the client send more). */
  pause(): unknown;
  resume(): unknown;
}

/** What the router needs from the downstream. */
export interface Downstream {
  /** Whether response headers went out. */
  readonly headersSent: boolean;
  /** Whether the downstream is gone (reset, closed, finished). */
  readonly closed: boolean;
  /** Whether trailers can be sent (HTTP/2 only). */
  readonly canTrailers: boolean;
  /** Whether the request was reset rather than finished (meaningful a loop turn after 'end'). */
  readonly aborted: boolean;
  /** Whether the body's 'end' is final: no reset of the request can surface after it. */
  readonly endIsFinal: boolean;
  /** The request body source. */
  readonly body: DownstreamBody;
  /** Sends response headers; `waitForTrailers` keeps the stream open for sendTrailers(). */
  respond(headers: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean): void;
  /** Writes body bytes; false means wait for 'drain' (see onDrain). */
  write(chunk: Buffer): boolean;
  /** Calls fn once when the write buffer drains. */
  onceDrain(fn: () => void): void;
  /** Ends the response body; with waitForTrailers, 'wantTrailers' follows. */
  end(): void;
  /** Sends trailers after end() (only when responded with waitForTrailers). */
  sendTrailers(trailers: OutgoingHttpHeaders): void;
  /** Aborts the response (RST_STREAM with `code` on HTTP/2; socket destroy on HTTP/1.1). */
  reset(code: number): void;
}

/** HTTP/2 downstream. */
export class H2Downstream implements Downstream {
  constructor(readonly stream: ServerHttp2Stream) {}
  get headersSent(): boolean {
    return this.stream.headersSent;
  }
  get closed(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }
  get canTrailers(): boolean {
    return true;
  }
  get aborted(): boolean {
    return this.stream.closed || this.stream.destroyed;
  }
  get endIsFinal(): boolean {
    return false;
  }
  get body(): NodeJS.ReadableStream {
    return this.stream;
  }
  respond(headers: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean): void {
    this.stream.respond(headers, { endStream, waitForTrailers });
  }
  write(chunk: Buffer): boolean {
    return this.stream.write(chunk);
  }
  onceDrain(fn: () => void): void {
    this.stream.once("drain", fn);
  }
  end(): void {
    this.stream.end();
  }
  sendTrailers(trailers: OutgoingHttpHeaders): void {
    this.stream.sendTrailers(trailers);
  }
  reset(code: number): void {
    if (!this.stream.destroyed) this.stream.close(code);
  }
}

/** HTTP/1.1 downstream. */
export class H1Downstream implements Downstream {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}
  get headersSent(): boolean {
    return this.res.headersSent;
  }
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }
  get canTrailers(): boolean {
    return false;
  }
  get aborted(): boolean {
    return this.req.destroyed && !this.req.complete;
  }
  get endIsFinal(): boolean {
    return false;
  }
  get body(): NodeJS.ReadableStream {
    return this.req;
  }
  respond(headers: OutgoingHttpHeaders, endStream: boolean): void {
    const status = Number(headers[":status"] ?? 200);
    for (const k of Object.keys(headers)) {
      if (k.charCodeAt(0) === 58 /* ':' */) continue;
      this.res.setHeader(k, headers[k] as string | string[]);
    }
    this.res.writeHead(status);
    if (endStream) this.res.end();
  }
  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }
  onceDrain(fn: () => void): void {
    this.res.once("drain", fn);
  }
  end(): void {
    this.res.end();
  }
  sendTrailers(): void {
    // HTTP/1.1 responses are not chunked-with-trailers here; trailers are dropped.
  }
  reset(): void {
    this.res.destroy();
  }
}
