/**
 * A downstream listener: one TCP (or TLS) socket server feeding an HTTP/2 server and an HTTP/1.1
 * server, both driven by the same connection manager.
 *
 * Cleartext connections are sniffed: the HTTP/2 connection preface goes to the HTTP/2 server,
 * anything else to HTTP/1.1 (node's `allowHTTP1` only works with TLS ALPN). TLS connections are
 * dispatched by the ALPN protocol the handshake settled on.
 */
import { http } from "../common/node-http.js";
import type { Server as HttpServer } from "node:http";
import type * as http2 from "node:http2";
import * as net from "node:net";
import type * as tls from "node:tls";
import { isDeepStrictEqual } from "node:util";
import type { Random } from "../common/clock.js";
import { ErrorCode, PilotfishError } from "../common/errors.js";
import type { ListenerConfig } from "../config/model.js";
import type { StatsStore } from "../stats/stats-store.js";
import type { ClusterManager } from "../upstream/cluster-manager.js";
import { tlsStats } from "../security/tls-stats.js";
import { ConnectionManager } from "./connection-manager.js";
import { DownstreamTls } from "./downstream-tls.js";
import { nodeTls } from "../common/lazy-require.js";
import { nodeH2Server } from "./node-h2-server.js";
import { MAX_STREAMS_PER_TURN } from "./stream-admission.js";
import { downstreamH2Codec } from "./downstream-codec.js";
import { RawH2ServerConnection, type RawH2ServerOptions, type RawH2StreamSink } from "./raw-h2/raw-h2-server-connection.js";
import type { RawH2ServerStream } from "./raw-h2/raw-h2-server-stream.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n");
/** Time an HTTP/1.1 client has to send its request headers (Node's default). */
const HTTP1_HEADERS_TIMEOUT_MS = 60_000;

/** A running listener. */
export class Listener implements RawH2StreamSink {
  /** The connection manager new streams go to; replaced whole when the listener's config changes. */
  cm: ConnectionManager;
  private readonly server: net.Server;
  /** node:http2's server, only with PILOTFISH_DOWNSTREAM_H2=node. */
  private readonly h2: http2.Http2Server | undefined;
  private readonly h1: HttpServer;
  /** HTTP/2 connections (node's sessions or ours), for GOAWAY on drain. */
  private readonly sessions = new Set<{ close(): void }>();
  /** Our own HTTP/2 server instead of node:http2's (PILOTFISH_DOWNSTREAM_H2=raw). */
  private readonly rawH2: boolean;
  private readonly sockets = new Set<net.Socket>();
  private draining = false;
  private tls: DownstreamTls | undefined;
  /** Bind with SO_REUSEPORT, so that worker processes share the port (set before listen()). */
  reusePort = false;

  constructor(
    public config: ListenerConfig,
    private readonly clusters: ClusterManager,
    private readonly random: Random,
    private readonly store: StatsStore,
  ) {
    const hcm = config.hcm;
    this.cm = new ConnectionManager(hcm, clusters, random, store, config.tls !== undefined);
    this.rawH2 = downstreamH2Codec() === "raw";
    if (!this.rawH2) {
      this.h2 = nodeH2Server(
        hcm,
        (stream, headers, flags) => this.cm.onStream(stream, headers, flags),
        () => this.onDropped(),
      );
      this.h2.on("session", (session) => this.onSession(session));
    }
    const headersTimeout = hcm.requestTimeoutMs > 0 ? Math.min(HTTP1_HEADERS_TIMEOUT_MS, hcm.requestTimeoutMs) : HTTP1_HEADERS_TIMEOUT_MS;
    this.h1 = http.createServer(
      {
        maxHeaderSize: hcm.maxRequestHeadersKb * 1024,
        requestTimeout: hcm.requestTimeoutMs,
        // Node derives headersTimeout from requestTimeout, so Envoy's default request_timeout of 0 also
        // turned off the HTTP/1.1 header deadline: a slowloris client could trickle headers forever
        // (each byte resets the idle timeout). Keep Node's own 60 s for headers in that case.
        headersTimeout,
        // Node checks both deadlines on this interval (default 30 s): a short request_timeout needs more.
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 2))),
        keepAliveTimeout: 5000,
      },
      (req, res) => this.cm.onHttp1Request(req, res),
    );
    // Node enforces headersTimeout/requestTimeout only once the server emitted 'listening'; this one
    // never listens (connections are handed to it), so without this neither deadline ever fired.
    this.h1.emit("listening");
    this.h1.maxHeadersCount = hcm.maxHeadersCount;

    if (config.tls !== undefined) {
      const dtls = (this.tls = new DownstreamTls(config.tls, tlsStats(store, `listener.${config.name}.`)));
      const server = nodeTls().createServer(dtls.serverOptions());
      dtls.attach(server);
      server.on("secureConnection", (sock: tls.TLSSocket) => {
        this.track(sock);
        if (!this.tls!.admit(sock)) {
          sock.destroy();
          return;
        }
        if (sock.alpnProtocol !== "h2") this.h1.emit("connection", sock);
        else if (this.rawH2) this.onRawConnection(sock, undefined);
        else this.h2!.emit("connection", sock);
      });
      server.on("tlsClientError", (err: NodeJS.ErrnoException) => this.tls!.onTlsClientError(err));
      this.server = server;
    } else {
      this.server = net.createServer({ noDelay: true }, (sock) => this.onCleartext(sock));
    }
  }

  /**
   * Takes a new config for the same address (an LDS update): streams from now on, on new and existing
   * connections, use the new connection manager; streams in flight finish on the old one.
   */
  update(config: ListenerConfig): void {
    if (this.tls !== undefined && config.tls !== undefined && !isDeepStrictEqual(config.tls, this.config.tls)) {
      this.tls = this.tls.replace(config.tls, this.server as tls.Server);
    }
    this.config = config;
    this.cm = new ConnectionManager(config.hcm, this.clusters, this.random, this.store, config.tls !== undefined);
  }

  /** Binds the address; resolves with the bound port. */
  async listen(): Promise<number> {
    const { address, port } = this.config.address;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(new PilotfishError(ErrorCode.LISTEN_FAILED, `listener ${this.config.name}: cannot bind ${address}:${port}: ${err.message}`));
      this.server.once("error", onError);
      this.server.listen({ host: address, port, reusePort: this.reusePort }, () => {
        this.server.removeListener("error", onError);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  /**
   * Starts draining: stop accepting, send GOAWAY on HTTP/2 sessions, close idle HTTP/1.1
   * connections; resolves when every connection is gone or `timeoutMs` passed (then they are
   * destroyed).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    this.h1.closeIdleConnections();
    const allGone = new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.sockets.size === 0) resolve();
      };
      this.server.on("pf-socket-closed", check);
      check();
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([allGone, timedOut]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    // Stops the HTTP/1.1 deadline checker started by emit("listening").
    this.h1.close();
    await closed;
    this.tls?.release();
  }

  private onCleartext(sock: net.Socket): void {
    this.track(sock);
    sock.once("data", (buf: Buffer) => {
      const n = Math.min(buf.length, PREFACE.length);
      const h2 = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (h2 && this.rawH2) return this.onRawConnection(sock, buf);
      sock.pause();
      sock.unshift(buf);
      if (h2) {
        this.h2!.emit("connection", sock);
      } else {
        this.h1.emit("connection", sock);
        sock.resume();
      }
    });
  }

  private track(sock: net.Socket): void {
    const stats = this.cm.stats;
    stats.cxTotal.inc();
    stats.cxActive.value++;
    this.sockets.add(sock);
    sock.once("close", () => {
      stats.cxActive.value--;
      this.sockets.delete(sock);
      this.server.emit("pf-socket-closed");
    });
    sock.on("error", () => sock.destroy());
    const idle = this.config.hcm.idleTimeoutMs;
    if (idle > 0) sock.setTimeout(idle, () => sock.destroy());
  }

  /** A connection for our own HTTP/2 server; `first` is what the preface sniffing read. */
  private onRawConnection(sock: net.Socket, first: Buffer | undefined): void {
    const conn = new RawH2ServerConnection(sock, this.rawOptions(), this);
    this.cm.stats.cxHttp2Total.inc();
    this.sessions.add(conn);
    conn.once("close", () => this.sessions.delete(conn));
    if (first !== undefined) conn.feed(first);
    if (this.draining) conn.close();
  }

  private rawOptions(): RawH2ServerOptions {
    const hcm = this.config.hcm;
    return {
      maxConcurrentStreams: hcm.http2.maxConcurrentStreams,
      streamWindow: hcm.http2.initialStreamWindowSize,
      connectionWindow: hcm.http2.initialConnectionWindowSize,
      maxHeaderListSize: hcm.maxRequestHeadersKb * 1024,
      maxHeaderFields: hcm.maxHeadersCount + 8,
      perTurn: MAX_STREAMS_PER_TURN,
    };
  }

  /** RawH2StreamSink: a request on one of our HTTP/2 connections, for the current connection manager. */
  onStream(stream: RawH2ServerStream, headers: http2.IncomingHttpHeaders, flags: number): void {
    this.cm.onRawStream(stream, headers, flags);
  }

  /** RawH2StreamSink: a request the client reset before its turn came. */
  onDropped(): void {
    this.cm.stats.rqTotal.inc();
    this.cm.stats.rxReset.inc();
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.cm.stats.cxHttp2Total.inc();
    this.sessions.add(session);
    session.once("close", () => this.sessions.delete(session));
    session.on("error", () => undefined);
    if (this.draining) session.close();
  }
}
