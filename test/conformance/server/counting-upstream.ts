/**
 * The upstream behind the sidecar under test: a node:http2 server on 127.0.0.1:0 that records every
 * stream it receives, so a case can assert that a malformed request never reached it. It answers 200
 * with "ok" to a request without a body, echoes a request body, and answers `?size=N` with N bytes
 * (for the cases that check the server's flow control on the response). A path containing "/hold/"
 * is never read nor answered: its body backs up into the sidecar and then the client's windows.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { withTimeout } from "../../helpers/util.js";

/** One stream as the upstream saw it. */
export interface UpstreamStream {
  readonly path: string;
  readonly method: string;
  readonly headers: http2.IncomingHttpHeaders;
  /** Request body bytes received so far. */
  bytes: number;
  /** Whether the request ended cleanly: END_STREAM received, not a reset (node also ends a reset stream). */
  complete: boolean;
  /** Whether the stream closed (answered or reset). */
  closed: boolean;
  /** Request trailers, if any came. */
  trailers: http2.IncomingHttpHeaders | undefined;
}

export class CountingUpstream {
  /** Every stream received, in arrival order. */
  readonly streams: UpstreamStream[] = [];
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly waiters = new Set<() => boolean>();

  private constructor(
    private readonly server: http2.Http2Server,
    readonly port: number,
  ) {}

  static async start(): Promise<CountingUpstream> {
    const server = http2.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const up = new CountingUpstream(server, (server.address() as AddressInfo).port);
    server.on("session", (s) => {
      up.sessions.add(s);
      s.on("close", () => up.sessions.delete(s));
      s.on("error", () => undefined);
    });
    server.on("stream", (stream, headers) => up.onStream(stream, headers));
    return up;
  }

  /** Streams received since index `mark`, those with `skip(path)` left out. */
  since(mark: number, skip?: (path: string) => boolean): UpstreamStream[] {
    const all = this.streams.slice(mark);
    return skip === undefined ? all : all.filter((s) => !skip(s.path));
  }

  /** Resolves once `check()` holds, re-checked whenever a stream arrives, ends or closes. */
  async until(check: () => boolean, label: string, ms: number): Promise<void> {
    if (check()) return;
    let w: (() => boolean) | undefined;
    try {
      await withTimeout(
        new Promise<void>((resolve) => {
          w = () => (check() ? (resolve(), true) : false);
          this.waiters.add(w);
        }),
        ms,
        `upstream: ${label}`,
      );
    } finally {
      if (w !== undefined) this.waiters.delete(w);
    }
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const rec: UpstreamStream = {
      path: String(headers[":path"] ?? ""),
      method: String(headers[":method"] ?? ""),
      headers,
      bytes: 0,
      complete: false,
      closed: false,
      trailers: undefined,
    };
    this.streams.push(rec);
    this.wake();
    const chunks: Buffer[] = [];
    stream.on("error", () => undefined);
    stream.on("close", () => {
      rec.closed = true;
      this.wake();
    });
    if (rec.path.includes("/hold/")) {
      stream.pause();
      return;
    }
    stream.on("trailers", (t: http2.IncomingHttpHeaders) => (rec.trailers = t));
    stream.on("data", (c: Buffer) => {
      rec.bytes += c.length;
      chunks.push(c);
    });
    stream.on("end", () => {
      rec.complete = !stream.closed && !stream.aborted && !stream.destroyed;
      this.wake();
      if (!rec.complete) return;
      const size = /[?&]size=(\d+)/.exec(rec.path);
      let body: Buffer;
      if (size !== null) body = Buffer.alloc(Number(size[1]), 0x62);
      else if (chunks.length > 0) body = Buffer.concat(chunks);
      else body = Buffer.from("ok");
      stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": body.length });
      stream.end(body);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (w()) this.waiters.delete(w);
  }
}
