/**
 * The pool logic both multiplexed HTTP/2 upstream pools share: RawH2Pool (our frame client, the
 * default) and Http2Pool (node:http2's client, the fallback). A subclass only says how to reach its
 * client: dial over a socket, forward the client's events, open a stream, ping, close, destroy.
 *
 * One connection is preferred (more requests per write, and grpc-js upstreams slow to 0.4x when fed
 * one stream per connection); another opens only when every live one is at the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS, up to 8. A connection that receives GOAWAY takes no new streams and
 * closes when its last stream ends; streams the peer never processed come back to the router as
 * refused, which it replays on a fresh connection. Connect timeout, idle timeout, keepalive PING with
 * its own timeout, and the cluster's cx stats are kept here.
 */
import * as net from "node:net";
import type { OutgoingHttpHeaders } from "node:http2";
import type { ClusterConfig } from "../config/model.js";
import type { Host } from "./host.js";
import type { PoolFailure, PoolWaiter, UpstreamPool, UpstreamStream } from "./upstream-pool.js";
import type { ClusterStats } from "./cluster-stats.js";
import { tlsFailureOf, type UpstreamTls } from "./upstream-tls.js";

const H2_ALPN = ["h2"];

/** Most connections one host gets, whatever the stream pressure. */
const MAX_CONNECTIONS_PER_HOST = 8;

interface QueuedRequest {
  headers: OutgoingHttpHeaders;
  endStream: boolean;
  waiter: PoolWaiter;
}

/** One pooled connection and its stream accounting. */
export class PooledConnection<Conn> {
  /** Streams opened on it and not yet closed. */
  active = 0;
  /**
   * Peer's SETTINGS_MAX_CONCURRENT_STREAMS. Until its SETTINGS arrive only one stream goes out, so a
   * peer with a low limit never has to refuse the queue we were holding.
   */
  maxStreams = 1;
  /** The client reported the transport up. */
  connected = false;
  /** No new streams (GOAWAY, idle close, pool close, or a request that threw). */
  draining = false;
  /** Closes the connection once it has been without streams for the cluster's idle timeout. */
  idleTimer: NodeJS.Timeout | undefined;
  /** Destroys the connection if it is not up within the cluster's connect timeout. */
  connectTimer: NodeJS.Timeout | undefined;
  /** Sends the keepalive PINGs. */
  pingTimer: NodeJS.Timeout | undefined;
  /** Destroys the connection when the PING in flight goes unanswered. */
  pingTimeout: NodeJS.Timeout | undefined;

  constructor(
    /** The client connection. */
    readonly conn: Conn,
    /** Its transport, kept to learn why a connect failed. */
    readonly socket: net.Socket,
    /** The pool it belongs to. */
    readonly pool: MultiplexedPool<Conn>,
  ) {}

  /** A stream of this connection closed (raw-h2's StreamSlotOwner; node:http2's stream 'close'). */
  onStreamClosed(): void {
    this.pool.onStreamClosed(this);
  }
}

/** Pool of multiplexed HTTP/2 connections of one client kind (`Conn`) to one host. */
export abstract class MultiplexedPool<Conn> implements UpstreamPool {
  private readonly conns: PooledConnection<Conn>[] = [];
  private readonly queue: QueuedRequest[] = [];
  private closed = false;

  constructor(
    protected readonly host: Host,
    protected readonly cluster: ClusterConfig,
    private readonly stats: ClusterStats,
    protected readonly tls?: UpstreamTls,
  ) {}

  /** Builds the client connection over a transport that is still connecting. */
  protected abstract dial(socket: net.Socket): Conn;
  /** Forwards the client's events to connUp, connSettings, connGoaway, connPingAck and connClosed. */
  protected abstract watch(pc: PooledConnection<Conn>): void;
  /** Opens a stream with the request headers sent, wired so that its end calls pc.onStreamClosed(); may throw. */
  protected abstract openStream(pc: PooledConnection<Conn>, headers: OutgoingHttpHeaders, endStream: boolean): UpstreamStream;
  /** Whether the client itself still takes new streams. */
  protected abstract acceptsStreams(conn: Conn): boolean;
  /** Whether the connection is destroyed ('close' may still be on its way). */
  protected abstract isDead(conn: Conn): boolean;
  /** Sends a keepalive PING; its ACK goes to connPingAck. */
  protected abstract ping(pc: PooledConnection<Conn>): void;
  /** Graceful: GOAWAY, then close once in-flight streams finish. */
  protected abstract closeConn(conn: Conn): void;
  /** Forceful; `why` names the pool's reason when it has one. */
  protected abstract destroyConn(conn: Conn, why?: string): void;
  /** Whether TLS came up with an ALPN protocol other than h2 (a TLS failure). */
  protected abstract alpnRejected(conn: Conn): boolean;

  get connections(): number {
    return this.conns.length;
  }

  request(headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void {
    if (this.closed) {
      waiter.onPoolFailure("closed");
      return;
    }
    const pc = this.pick();
    if (pc !== undefined) {
      this.open(pc, headers, endStream, waiter);
      return;
    }
    if (this.queue.length >= this.cluster.circuitBreakers.maxPendingRequests) {
      waiter.onPoolFailure("overflow");
      return;
    }
    this.queue.push({ headers, endStream, waiter });
    this.maybeGrow();
  }

  cancel(waiter: PoolWaiter): void {
    const i = this.queue.findIndex((q) => q.waiter === waiter);
    if (i >= 0) this.queue.splice(i, 1);
  }

  close(): void {
    this.closed = true;
    for (const pc of [...this.conns]) {
      pc.draining = true;
      this.closeConn(pc.conn);
    }
    this.failQueue("closed");
  }

  destroy(): void {
    this.closed = true;
    for (const pc of [...this.conns]) this.destroyConn(pc.conn);
    this.failQueue("closed");
  }

  /** A stream of `pc` closed: its slot takes a queued request, or the connection may idle. */
  onStreamClosed(pc: PooledConnection<Conn>): void {
    pc.active--;
    if (this.queue.length > 0 && pc.connected && this.hasRoom(pc)) this.drainQueueInto(pc);
    if (pc.active === 0 && !this.isDead(pc.conn)) {
      if (pc.draining) this.closeConn(pc.conn);
      else this.armIdle(pc);
    }
  }

  // ------------------------------------------------------------------ the client's events (see watch)

  /** The transport is up and the preface sent. */
  protected connUp(pc: PooledConnection<Conn>): void {
    clearTimeout(pc.connectTimer);
    pc.connected = true;
    this.startKeepalive(pc);
    this.drainQueueInto(pc);
    if (pc.active === 0) this.armIdle(pc);
  }

  /** The peer's SETTINGS arrived with its MAX_CONCURRENT_STREAMS. */
  protected connSettings(pc: PooledConnection<Conn>, maxStreams: number): void {
    pc.maxStreams = maxStreams;
    if (pc.connected) this.drainQueueInto(pc);
    this.maybeGrow();
  }

  /** GOAWAY received (or stream ids ran out): no new streams here. */
  protected connGoaway(pc: PooledConnection<Conn>): void {
    pc.draining = true;
    this.remove(pc);
    // Queued requests need another connection, unless one is already coming up (a GOAWAY storm
    // must not open a connection per GOAWAY).
    this.maybeGrow();
  }

  /** The peer answered our keepalive PING. */
  protected connPingAck(pc: PooledConnection<Conn>): void {
    if (pc.pingTimeout !== undefined) {
      clearTimeout(pc.pingTimeout);
      pc.pingTimeout = undefined;
    }
  }

  /** The connection closed, after every stream on it. */
  protected connClosed(pc: PooledConnection<Conn>): void {
    clearTimeout(pc.connectTimer);
    if (pc.idleTimer !== undefined) clearTimeout(pc.idleTimer);
    if (pc.pingTimer !== undefined) clearInterval(pc.pingTimer);
    if (pc.pingTimeout !== undefined) clearTimeout(pc.pingTimeout);
    this.stats.cxActive.value--;
    const wasConnected = pc.connected;
    this.remove(pc);
    if (!wasConnected) {
      this.host.stats.cxConnectFail++;
      this.stats.cxConnectFail.inc();
      // Queued requests were waiting for this connection; fail them unless another is on its way.
      if (!this.conns.some((c) => !c.draining)) {
        this.failQueue(tlsFailureOf(pc.socket) !== "" || this.alpnRejected(pc.conn) ? "tls-failure" : "connect-failure");
      }
    } else {
      this.maybeGrow();
    }
  }

  // -------------------------------------------------------------------------------------- internals

  private hasRoom(pc: PooledConnection<Conn>): boolean {
    return !pc.draining && pc.active < pc.maxStreams && this.acceptsStreams(pc.conn);
  }

  private pick(): PooledConnection<Conn> | undefined {
    const conns = this.conns;
    for (let i = 0; i < conns.length; i++) {
      const pc = conns[i];
      if (pc.connected && this.hasRoom(pc)) return pc;
    }
    return undefined;
  }

  private open(pc: PooledConnection<Conn>, headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void {
    let stream: UpstreamStream;
    try {
      stream = this.openStream(pc, headers, endStream);
    } catch {
      // The connection died between the check and the request (e.g. it just received GOAWAY).
      pc.draining = true;
      waiter.onPoolFailure("closed");
      return;
    }
    pc.active++;
    if (pc.idleTimer !== undefined) {
      clearTimeout(pc.idleTimer);
      pc.idleTimer = undefined;
    }
    waiter.onPoolReady(stream);
  }

  /** Opens another connection when requests wait and no live or connecting one can take them. */
  private maybeGrow(): void {
    const conns = this.conns;
    if (this.queue.length === 0 || this.closed || conns.length >= MAX_CONNECTIONS_PER_HOST) return;
    for (let i = 0; i < conns.length; i++) {
      const pc = conns[i];
      if (!pc.draining && (!pc.connected || this.hasRoom(pc))) return;
    }
    this.connect();
  }

  private drainQueueInto(pc: PooledConnection<Conn>): void {
    while (this.queue.length > 0 && this.hasRoom(pc) && !this.isDead(pc.conn)) {
      const q = this.queue.shift()!;
      this.open(pc, q.headers, q.endStream, q.waiter);
    }
  }

  private failQueue(reason: PoolFailure): void {
    const q = this.queue.splice(0);
    for (const r of q) r.waiter.onPoolFailure(reason);
  }

  private armIdle(pc: PooledConnection<Conn>): void {
    const ms = this.cluster.idleTimeoutMs;
    if (ms <= 0 || pc.idleTimer !== undefined) return;
    pc.idleTimer = setTimeout(MultiplexedPool.onIdleTimeout, ms, pc);
    pc.idleTimer.unref();
  }

  private connect(): void {
    const { address, port } = this.host.address;
    const tls = this.tls;
    const socket = tls ? tls.connect(address, port, H2_ALPN) : net.connect({ host: address, port, noDelay: true });
    const pc = new PooledConnection(this.dial(socket), socket, this);
    this.conns.push(pc);
    this.host.stats.cxTotal++;
    this.stats.cxTotal.inc();
    this.stats.cxActive.value++;
    pc.connectTimer = setTimeout(MultiplexedPool.onConnectTimeout, this.cluster.connectTimeoutMs, pc);
    pc.connectTimer.unref();
    this.watch(pc);
  }

  private startKeepalive(pc: PooledConnection<Conn>): void {
    const interval = this.cluster.http2.keepaliveIntervalMs;
    if (interval <= 0) return;
    pc.pingTimer = setInterval(MultiplexedPool.sendKeepalive, interval, pc);
    pc.pingTimer.unref();
  }

  private remove(pc: PooledConnection<Conn>): void {
    const i = this.conns.indexOf(pc);
    if (i >= 0) this.conns.splice(i, 1);
  }

  // Timer callbacks: shared functions with the connection as argument, no closure per timer.

  private static onIdleTimeout<C>(this: void, pc: PooledConnection<C>): void {
    pc.idleTimer = undefined;
    if (pc.active === 0) {
      pc.draining = true;
      pc.pool.closeConn(pc.conn);
    }
  }

  private static onConnectTimeout<C>(this: void, pc: PooledConnection<C>): void {
    pc.connectTimer = undefined;
    if (pc.connected) return;
    pc.pool.stats.cxConnectTimeout.inc();
    pc.pool.destroyConn(pc.conn, "connect timeout");
  }

  private static sendKeepalive<C>(this: void, pc: PooledConnection<C>): void {
    // One PING in flight: an unanswered one is already timing out. A destroyed connection whose
    // 'close' is still on its way gets none (node:http2 throws on a destroyed session).
    if (pc.pingTimeout !== undefined || pc.pool.isDead(pc.conn)) return;
    pc.pingTimeout = setTimeout(MultiplexedPool.onKeepaliveTimeout, pc.pool.cluster.http2.keepaliveTimeoutMs, pc);
    pc.pingTimeout.unref();
    pc.pool.ping(pc);
  }

  private static onKeepaliveTimeout<C>(this: void, pc: PooledConnection<C>): void {
    pc.pingTimeout = undefined;
    pc.pool.destroyConn(pc.conn, "keepalive timeout");
  }
}
