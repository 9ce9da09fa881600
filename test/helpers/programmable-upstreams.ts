/**
 * Programmable upstreams and clients for the pool, protocol, TLS and retry tests: an h2c server whose
 * handler the test supplies (with per-session accounting), a node:http HTTP/1.1 server, a persistent h2
 * client session (cleartext or TLS), an admin JSON fetch, and self-signed certificates via `openssl`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deferred, http1Request, withTimeout, type Deferred } from "./util.js";

/** One request an upstream saw. */
export interface SeenRequest {
  /** 0-based index of the session (TCP connection) it came on; -1 for HTTP/1.1. */
  session: number;
  /** HTTP/2 stream id (0 for HTTP/1.1). */
  streamId: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface H2Context {
  /** Index of the session the stream arrived on. */
  sessionIndex: number;
  session: http2.ServerHttp2Session;
  /** Number of this request among all requests (0-based). */
  index: number;
  req: SeenRequest;
}

/**
 * Handles one complete request (body read). Return nothing and answer through `stream` yourself, or
 * return `{status, body, headers}` to have it answered.
 */
export type H2Handler = (
  stream: http2.ServerHttp2Stream,
  ctx: H2Context,
) => void | { status: number; body?: string | Buffer; headers?: http2.OutgoingHttpHeaders };

export interface ProgrammableH2 {
  readonly port: number;
  /** Every session (TCP connection) accepted, in order. */
  readonly sessions: http2.ServerHttp2Session[];
  readonly requests: SeenRequest[];
  /** Waits until at least `n` requests (bodies complete) have arrived; bounded. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  /** Waits until at least `n` streams have been opened (headers seen, body maybe not); bounded. */
  waitForStreams(n: number, timeoutMs?: number): Promise<void>;
  /** Streams opened so far. */
  streamCount(): number;
  close(): Promise<void>;
}

function counterWaiter(label: string): {
  bump(): void;
  count(): number;
  wait(n: number, timeoutMs: number): Promise<void>;
} {
  let count = 0;
  const waiters: Array<{ n: number; d: Deferred<void> }> = [];
  return {
    bump() {
      count++;
      for (const w of waiters) if (count >= w.n) w.d.resolve();
    },
    count: () => count,
    wait(n, timeoutMs) {
      if (count >= n) return Promise.resolve();
      const d = deferred<void>();
      waiters.push({ n, d });
      return withTimeout(d.promise, timeoutMs, `${label}: waiting for ${n} (have ${count})`);
    },
  };
}

export async function startProgrammableH2(opts: {
  settings?: http2.Settings;
  handler?: H2Handler;
  /** Called when a stream opens (headers only). */
  onStream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, sessionIndex: number) => void;
} = {}): Promise<ProgrammableH2> {
  const server = http2.createServer({ settings: opts.settings });
  const sessions: http2.ServerHttp2Session[] = [];
  const requests: SeenRequest[] = [];
  const reqCounter = counterWaiter("h2 upstream requests");
  const streamCounter = counterWaiter("h2 upstream streams");
  server.on("session", (s) => {
    sessions.push(s);
    s.on("error", () => undefined);
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => undefined);
    const sessionIndex = sessions.indexOf(stream.session as http2.ServerHttp2Session);
    streamCounter.bump();
    opts.onStream?.(stream, headers, sessionIndex);
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const req: SeenRequest = {
        session: sessionIndex,
        streamId: stream.id ?? 0,
        method: String(headers[":method"]),
        path: String(headers[":path"]),
        headers: { ...headers },
        body: Buffer.concat(chunks),
      };
      const index = requests.length;
      requests.push(req);
      reqCounter.bump();
      if (stream.destroyed) return;
      const out = (opts.handler ?? defaultH2Handler)(stream, { sessionIndex, session: stream.session as http2.ServerHttp2Session, index, req });
      if (out && !stream.destroyed) {
        stream.respond({ ":status": out.status, "content-type": "text/plain", ...out.headers });
        stream.end(out.body ?? "");
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    sessions,
    requests,
    waitForRequests: (n, timeoutMs = 5000) => reqCounter.wait(n, timeoutMs),
    waitForStreams: (n, timeoutMs = 5000) => streamCounter.wait(n, timeoutMs),
    streamCount: () => streamCounter.count(),
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Default: 200 naming method, path, session and body length. */
export const defaultH2Handler: H2Handler = (_stream, ctx) => ({
  status: 200,
  body: `${ctx.req.method} ${ctx.req.path} session=${ctx.sessionIndex} len=${ctx.req.body.length}`,
});

export interface Http1Upstream {
  readonly port: number;
  readonly requests: SeenRequest[];
  /** HTTP versions seen ("1.1", "2.0", ...). */
  readonly versions: string[];
  /** Distinct TCP connections seen. */
  connections(): number;
  close(): Promise<void>;
}

/** A node:http server answering 200 `<method> <path> body=<body>` and echoing request headers as JSON in `x-seen-headers`. */
export async function startHttp1Upstream(
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
): Promise<Http1Upstream> {
  const requests: SeenRequest[] = [];
  const versions: string[] = [];
  let conns = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      versions.push(req.httpVersion);
      requests.push({ session: -1, streamId: 0, method: req.method ?? "", path: req.url ?? "", headers: { ...req.headers }, body });
      if (handler) return handler(req, res, body);
      res.writeHead(200, { "content-type": "text/plain", "x-upstream-proto": `http/${req.httpVersion}` });
      res.end(`${req.method} ${req.url} body=${body.toString("utf8")}`);
    });
  });
  server.on("connection", () => conns++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    versions,
    connections: () => conns,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
  rstCode: number | undefined;
}

/** A persistent h2 client session (many concurrent requests on one connection). */
export interface H2Client {
  readonly session: http2.ClientHttp2Session;
  request(opts: {
    path: string;
    method?: string;
    headers?: http2.OutgoingHttpHeaders;
    body?: string | Buffer;
    timeoutMs?: number;
  }): Promise<H2Response>;
  close(): void;
}

export async function connectH2(authority: string, options: http2.SecureClientSessionOptions = {}): Promise<H2Client> {
  const session = http2.connect(authority, options);
  session.on("error", () => undefined);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    }),
    5000,
    `h2 connect ${authority}`,
  );
  return {
    session,
    request({ path, method = "GET", headers = {}, body, timeoutMs = 10_000 }) {
      const req = session.request({ ":method": method, ":path": path, ...headers }, { endStream: body === undefined });
      const p = new Promise<H2Response>((resolve, reject) => {
        let resHeaders: http2.IncomingHttpHeaders | undefined;
        let trailers: http2.IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        req.on("response", (h) => (resHeaders = h));
        req.on("trailers", (t) => (trailers = t));
        req.on("data", (c: Buffer) => chunks.push(c));
        const finish = (): void => {
          if (!resHeaders) reject(new Error(`${method} ${path}: stream closed without response (rstCode ${req.rstCode})`));
          else resolve({ status: Number(resHeaders[":status"]), headers: resHeaders, body: Buffer.concat(chunks), trailers, rstCode: req.rstCode });
        };
        req.on("end", finish);
        req.on("close", finish);
        req.on("error", (err: Error) => (resHeaders ? finish() : reject(err)));
      });
      if (body !== undefined) req.end(body);
      return withTimeout(p, timeoutMs, `${method} ${path}`).catch((e: unknown) => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        throw e;
      });
    },
    close() {
      session.destroy();
    },
  };
}

/** Per-host stats from `/clusters?format=json`, keyed by `<cluster>/<port>`. */
export async function clusterHostStats(adminPort: number): Promise<Map<string, Record<string, number>>> {
  const res = await http1Request({ port: adminPort, path: "/clusters?format=json" });
  if (res.status !== 200) throw new Error(`/clusters?format=json: ${res.status} ${res.body}`);
  const doc = JSON.parse(res.body) as {
    cluster_statuses: Array<{
      name: string;
      host_statuses?: Array<{ address: { socket_address: { port_value: number } }; stats: Record<string, number> }>;
    }>;
  };
  const out = new Map<string, Record<string, number>>();
  for (const c of doc.cluster_statuses) {
    for (const h of c.host_statuses ?? []) out.set(`${c.name}/${h.address.socket_address.port_value}`, h.stats);
  }
  return out;
}

/** A self-signed certificate for 127.0.0.1 / localhost, made with the openssl CLI into a temp dir. */
export interface SelfSigned {
  dir: string;
  certPath: string;
  keyPath: string;
  cert: Buffer;
  cleanup(): Promise<void>;
}

export async function makeSelfSignedCert(): Promise<SelfSigned> {
  const dir = await mkdtemp(join(tmpdir(), "pilotfish-tls-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  await new Promise<void>((resolve, reject) => {
    execFile(
      "/usr/bin/openssl",
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
        "-keyout", keyPath, "-out", certPath,
        "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { timeout: 20_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`openssl failed: ${err.message}\n${stderr}`)) : resolve()),
    );
  });
  return { dir, certPath, keyPath, cert: await readFile(certPath), cleanup: () => rm(dir, { recursive: true, force: true }) };
}
