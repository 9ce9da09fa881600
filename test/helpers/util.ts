/**
 * Small shared helpers for the integration tests: bounded waits, deferreds, paths, raw HTTP clients.
 * Nothing here sleeps for correctness: waits are on events, or bounded polls of an observable condition.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (two levels above test/helpers). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A promise with its resolve/reject exposed. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
  readonly settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = (v) => {
      settled = true;
      res(v);
    };
    reject = (e) => {
      settled = true;
      rej(e instanceof Error ? e : new Error(String(e)));
    };
  });
  // A deferred nobody awaits must not crash the process with an unhandled rejection.
  promise.catch(() => undefined);
  return {
    promise,
    resolve,
    reject,
    get settled() {
      return settled;
    },
  };
}

/** Rejects with `label` if `p` does not settle within `ms`. The timer never keeps the process alive. */
export async function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`. Only for pacing (e.g. sampling RSS), never to wait for a condition. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Bounded poll: calls `check` every `intervalMs` until it returns a truthy value, which is returned.
 * Rejects with `label` (and the last thrown error, if any) after `timeoutMs`.
 */
export async function pollUntil<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: { timeoutMs: number; intervalMs?: number; label: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const suffix = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
      throw new Error(`condition not met within ${opts.timeoutMs} ms: ${opts.label}${suffix}`);
    }
    await delay(opts.intervalMs ?? 50);
  }
}

/** Deterministic payload: byte i = (i * 31 + seed) & 0xff. Same formula as the echo server. */
export function patternBytes(size: number, seed = 0): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + seed) & 0xff;
  return buf;
}

/** Response of a plain HTTP request. */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A plain HTTP/1.1 request with a bounded time. */
export function http1Request(opts: {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: opts.port,
        path: opts.path,
        method: opts.method ?? "GET",
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`HTTP/1.1 ${opts.method ?? "GET"} ${opts.path} on port ${opts.port}: no response in ${timeoutMs} ms`));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Response of a raw HTTP/2 request: headers, body, trailers, and whether the headers ended the stream. */
export interface Http2Result {
  headers: http2.IncomingHttpHeaders;
  /** True when the response HEADERS frame carried END_STREAM (e.g. a gRPC trailers-only response). */
  headersEndStream: boolean;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
  /** RST_STREAM code if the stream was reset (undefined or 0 for a clean end). */
  rstCode?: number | undefined;
}

/** A raw HTTP/2 (h2c) request on a fresh session; the session is closed afterwards. */
export async function http2Request(opts: {
  port: number;
  path: string;
  method?: string;
  headers?: http2.OutgoingHttpHeaders;
  body?: Buffer | string;
  timeoutMs?: number;
}): Promise<Http2Result> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const session = http2.connect(`http://127.0.0.1:${opts.port}`);
  session.on("error", () => undefined);
  try {
    return await withTimeout(
      new Promise<Http2Result>((resolve, reject) => {
        session.once("error", reject);
        const req = session.request({
          ":method": opts.method ?? "GET",
          ":path": opts.path,
          ...opts.headers,
        }, { endStream: opts.body === undefined });
        let headers: http2.IncomingHttpHeaders | undefined;
        let headersEndStream = false;
        let trailers: http2.IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        req.on("response", (h, flags) => {
          headers = h;
          headersEndStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        });
        req.on("trailers", (t) => {
          trailers = t;
        });
        req.on("data", (c: Buffer) => chunks.push(c));
        const finish = (): void => {
          if (!headers) reject(new Error(`HTTP/2 stream ended without response headers (rstCode ${req.rstCode})`));
          else resolve({ headers, headersEndStream, body: Buffer.concat(chunks), trailers, rstCode: req.rstCode });
        };
        req.on("end", finish);
        // A stream closed by RST_STREAM (even NO_ERROR) may never emit 'end'.
        req.on("close", finish);
        req.on("error", (err: Error) => (headers ? finish() : reject(err)));
        if (opts.body !== undefined) req.end(opts.body);
      }),
      timeoutMs,
      `HTTP/2 ${opts.method ?? "GET"} ${opts.path} on port ${opts.port}`,
    );
  } finally {
    session.destroy();
  }
}

/** Frames one gRPC message (uncompressed) for raw HTTP/2 requests. */
export function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** Attempts a TCP connection: resolves "connected", "refused", "timeout" or another error code. Bounded. */
export function tryConnect(port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve("timeout");
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.destroy();
      resolve("connected");
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(err.code === "ECONNREFUSED" ? "refused" : (err.code ?? err.message));
    });
  });
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago and is now closed (nothing listens). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Polls `check` until it is true, failing after `ms` with "timed out ... waiting for <what>" (pollUntil, shorter). */
export async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  await pollUntil(async () => (await check()) || undefined, { timeoutMs: ms, intervalMs: 20, label: what });
}
