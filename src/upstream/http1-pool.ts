/**
 * HTTP/1.1 upstream pool: node's keep-alive http.Agent (one request per connection at a time), with
 * each request adapted to the UpstreamStream shape the router drives. gRPC never comes here: the
 * router refuses to send it to an HTTP/1.1 cluster.
 */
import { http } from "../common/node-http.js";
import type { Agent as HttpAgent, ClientRequest as HttpClientRequest, IncomingMessage as HttpIncomingMessage } from "node:http";
import { EventEmitter } from "node:events";
import type { OutgoingHttpHeaders } from "node:http2";
import type { ClusterConfig } from "../config/model.js";
import type { Host } from "./host.js";
import type { PoolWaiter, UpstreamPool, UpstreamStream } from "./upstream-pool.js";
import type { ClusterStats } from "./cluster-stats.js";
import { isTlsHandshakeError, type UpstreamTls } from "./upstream-tls.js";
import { isTlsSocket } from "../security/peer-identity.js";

const H1_ALPN = ["http/1.1"];

const END_STREAM_FLAG = 0x1;
const NGHTTP2_INTERNAL_ERROR = 2;
const NGHTTP2_REFUSED_STREAM = 7;

/** Hop-by-hop headers HTTP/1.1 must not forward as is. */
const SKIP = new Set([":method", ":path", ":authority", ":scheme", "te", "connection"]);

/** One HTTP/1.1 exchange presented as an upstream stream. */
class Http1Stream extends EventEmitter implements UpstreamStream {
  rstCode: number | undefined;
  destroyed = false;
  connectFailed = false;
  private gotResponse = false;
  private res: HttpIncomingMessage | undefined;

  constructor(private readonly req: HttpClientRequest, onConnect: (ok: boolean) => void) {
    super();
    req.once("socket", (sock) => {
      // A TLS connection is usable only once its handshake (and our verification) is done.
      // A reused keep-alive socket is ready; a new one is, once connected (TLS: handshaken and verified).
      if (!sock.connecting) onConnect(true);
      else sock.once(isTlsSocket(sock) ? "secureConnect" : "connect", () => onConnect(true));
    });
    req.on("response", (res: HttpIncomingMessage) => {
      this.gotResponse = true;
      this.res = res;
      const headers: Record<string, string | string[] | number | undefined> = { ":status": res.statusCode ?? 502 };
      for (const [k, v] of Object.entries(res.headers)) {
        if (k !== "connection" && k !== "keep-alive" && k !== "transfer-encoding") headers[k] = v;
      }
      const noBody = req.method === "HEAD" || res.statusCode === 204 || res.statusCode === 304;
      this.emit("response", headers, noBody ? END_STREAM_FLAG : 0);
      res.on("data", (c: Buffer) => this.emit("data", c));
      res.on("end", () => {
        if (Object.keys(res.trailers).length > 0) this.emit("trailers", res.trailers, 0);
        this.emit("end");
        this.finish(0);
      });
      res.on("error", () => this.finish(NGHTTP2_INTERNAL_ERROR));
      res.on("aborted", () => this.finish(NGHTTP2_INTERNAL_ERROR));
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (!this.gotResponse && (err.code === "ECONNREFUSED" || err.code === "EHOSTUNREACH" || err.code === "ETIMEDOUT" || isTlsHandshakeError(err))) {
        this.connectFailed = true;
        onConnect(false);
        this.finish(NGHTTP2_REFUSED_STREAM);
      } else {
        this.finish(NGHTTP2_INTERNAL_ERROR);
      }
    });
    req.on("drain", () => this.emit("drain"));
  }

  get session(): object | undefined {
    return this.req.socket?.destroyed === false ? this.req.socket : undefined;
  }

  write(chunk: Buffer): boolean {
    return this.req.write(chunk);
  }
  end(): void {
    this.req.end();
  }
  pause(): this {
    this.res?.pause();
    return this;
  }
  resume(): this {
    this.res?.resume();
    return this;
  }
  close(code = NGHTTP2_INTERNAL_ERROR): void {
    this.req.destroy();
    this.finish(code);
  }

  private finish(code: number): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.rstCode = code;
    this.emit("close");
  }
}

/** Pool of HTTP/1.1 keep-alive connections to one host. */
export class Http1Pool implements UpstreamPool {
  private readonly agent: HttpAgent;

  constructor(
    private readonly host: Host,
    private readonly cluster: ClusterConfig,
    private readonly stats: ClusterStats,
    tls?: UpstreamTls,
  ) {
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: cluster.circuitBreakers.maxConnections,
      timeout: cluster.idleTimeoutMs > 0 ? cluster.idleTimeoutMs : undefined,
    });
    if (tls !== undefined) {
      // The agent keeps pooling; only how a new connection is made changes.
      const { address, port } = host.address;
      this.agent.createConnection = () => tls.connect(address, port, H1_ALPN);
    }
  }

  get connections(): number {
    let n = 0;
    for (const list of Object.values(this.agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(this.agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  request(headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void {
    const out: OutgoingHttpHeaders = {};
    for (const k of Object.keys(headers)) if (!SKIP.has(k)) out[k] = headers[k];
    out.host = headers[":authority"] as string;
    const req = http.request({
      agent: this.agent,
      host: this.host.address.address,
      port: this.host.address.port,
      method: headers[":method"] as string,
      path: headers[":path"] as string,
      headers: out,
      timeout: this.cluster.connectTimeoutMs,
    });
    req.setNoDelay(true);
    const timer = setTimeout(() => {
      this.stats.cxConnectTimeout.inc();
      req.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" }));
    }, this.cluster.connectTimeoutMs);
    timer.unref();
    const stream = new Http1Stream(req, (ok) => {
      clearTimeout(timer);
      if (ok) {
        req.setTimeout(0);
      } else {
        this.host.stats.cxConnectFail++;
        this.stats.cxConnectFail.inc();
      }
    });
    if (endStream) req.end();
    waiter.onPoolReady(stream);
  }

  cancel(_waiter: PoolWaiter): void {
    // Requests are handed out at once; nothing is ever queued here (the agent queues internally).
  }

  close(): void {
    this.agent.destroy();
  }

  destroy(): void {
    this.agent.destroy();
  }
}
