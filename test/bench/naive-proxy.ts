// "Naive" HTTP/2 (h2c) + gRPC forward proxy on node:http2, as described in
// /work/shared/reference/perf-anchors.md ("The Node prototype"). It is the
// plain-Node baseline that Pilotfish is compared against in test/bench/run.sh.
// Usage: node test/bench/naive-proxy.ts <listenPort>=<upstreamHost:port> [...]
// Env: POOL_SIZE (upstream sessions per upstream, default 1).
import http2 from "node:http2";

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const WINDOW = 1 << 20;
const POOL_SIZE = Math.max(1, Number(process.env.POOL_SIZE ?? "1"));
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings", "host"]);

function copyHeaders(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const k of Object.keys(h)) if (!HOP.has(k)) out[k] = h[k];
  return out;
}

class Pool {
  private sessions: (http2.ClientHttp2Session | undefined)[] = [];
  private next = 0;
  private readonly authority: string;
  constructor(authority: string) {
    this.authority = authority;
  }
  get(): http2.ClientHttp2Session {
    const i = this.next++ % POOL_SIZE;
    let s = this.sessions[i];
    if (!s || s.closed || s.destroyed) {
      const fresh = http2.connect(this.authority, { settings: { initialWindowSize: WINDOW }, maxSessionMemory: 64 });
      fresh.on("connect", (_s, socket) => (socket).setNoDelay(true));
      fresh.on("error", () => {});
      fresh.on("close", () => {
        if (this.sessions[i] === fresh) this.sessions[i] = undefined;
      });
      this.sessions[i] = s = fresh;
    }
    return s;
  }
}

function serve(listenPort: number, upstream: string): void {
  const pool = new Pool(`http://${upstream}`);
  const server = http2.createServer({ settings: { initialWindowSize: WINDOW }, maxSessionMemory: 64 });
  server.on("connection", (socket: import("node:net").Socket) => socket.setNoDelay(true));
  server.on("stream", (down, headers, flags) => {
    const reqEnded = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const clientWantsTrailers = String(headers.te ?? "").includes("trailers");
    let up: http2.ClientHttp2Stream;
    try {
      up = pool.get().request(copyHeaders(headers), { endStream: reqEnded });
    } catch {
      if (!down.destroyed) down.respond({ ":status": 502 }, { endStream: true });
      return;
    }
    down.on("error", () => {});
    up.on("error", () => {});
    if (!reqEnded) down.pipe(up);
    let finished = false; // downstream response fully handed to node:http2

    up.on("response", (rh, rflags) => {
      if (down.destroyed || down.closed) return;
      const out = copyHeaders(rh);
      if ((rflags & NGHTTP2_FLAG_END_STREAM) !== 0) {
        // gRPC trailers-only (or empty) response: a single HEADERS frame with END_STREAM.
        finished = true;
        down.respond(out, { endStream: true });
        up.resume();
        return;
      }
      const isGrpc = String(rh["content-type"] ?? "").startsWith("application/grpc");
      const wantTrailers = clientWantsTrailers || isGrpc || rh.trailer !== undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      if (wantTrailers) {
        up.on("trailers", (t) => (trailers = t));
        down.on("wantTrailers", () => down.sendTrailers(trailers ? copyHeaders(trailers) : {}));
      }
      down.respond(out, { waitForTrailers: wantTrailers });
      up.on("data", (chunk: Buffer) => {
        if (!down.write(chunk)) {
          up.pause();
          down.once("drain", () => up.resume());
        }
      });
      up.on("end", () => {
        finished = true;
        down.end();
      });
    });

    // Resets both ways.
    down.on("close", () => {
      if (!up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
    });
    up.on("close", () => {
      if (finished || down.closed || down.destroyed) return;
      const code = up.rstCode ?? NGHTTP2_INTERNAL_ERROR;
      if (!down.headersSent) down.respond({ ":status": 502 }, { endStream: true });
      else down.close(code === NGHTTP2_NO_ERROR ? NGHTTP2_INTERNAL_ERROR : code);
    });
  });
  server.listen(listenPort, "127.0.0.1", () => console.log(`naive-proxy 127.0.0.1:${listenPort} -> ${upstream}`));
}

for (const arg of process.argv.slice(2)) {
  const [port, upstream] = arg.split("=");
  if (!port || !upstream) throw new Error(`bad argument ${arg}, want <port>=<host:port>`);
  serve(Number(port), upstream);
}
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
