/**
 * A plain (non-gRPC) h2c upstream on 127.0.0.1:0 built on node:http2, recording every request.
 * Paths starting with /slow are never answered (for route timeouts); everything else gets 200 with a
 * text body naming the method, path and request body.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { deferred, withTimeout, type Deferred } from "./util.js";

export interface H2Request {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** Resolves when the stream closes (answered, reset or cancelled). */
  closed: Promise<void>;
}

export interface H2Upstream {
  readonly port: number;
  readonly requests: H2Request[];
  waitForRequest(index?: number, timeoutMs?: number): Promise<H2Request>;
  close(): Promise<void>;
}

/** The body the upstream answers with, so tests can compare exactly. */
export function h2UpstreamBody(method: string, path: string, body: string): string {
  return `hello from h2 upstream: ${method} ${path} body=${body}`;
}

export async function startH2Upstream(): Promise<H2Upstream> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const requests: H2Request[] = [];
  const arrivals: Deferred<void>[] = [];
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
    s.on("error", () => undefined);
  });
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    const closed = deferred<void>();
    stream.on("close", () => closed.resolve());
    stream.on("error", () => undefined);
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const rec: H2Request = { headers, body: Buffer.concat(chunks), closed: closed.promise };
      requests.push(rec);
      (arrivals[requests.length - 1] ??= deferred<void>()).resolve();
      const path = String(headers[":path"]);
      if (path.startsWith("/slow")) return; // never answer
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "text/plain", "x-upstream-proto": "h2" });
      stream.end(h2UpstreamBody(String(headers[":method"]), path, rec.body.toString("utf8")));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    waitForRequest(index = 0, timeoutMs = 5000) {
      const existing = requests[index];
      if (existing) return Promise.resolve(existing);
      arrivals[index] ??= deferred<void>();
      return withTimeout(arrivals[index].promise, timeoutMs, `h2 upstream waiting for request #${index}`).then(() => requests[index]);
    },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
