/**
 * HTTP/2 connection pool for one host on the raw frame client (src/upstream/raw-h2/), chosen with
 * PILOTFISH_UPSTREAM_H2=raw. Same behaviour as Http2Pool: one connection preferred, another only when
 * every live one is at the peer's SETTINGS_MAX_CONCURRENT_STREAMS (up to 8); GOAWAY stops new streams
 * and closes the connection when idle, while streams the peer never processed come back refused for
 * the router to replay; connect timeout, idle timeout, keepalive PING; the same cx stats.
 */
import * as net from "node:net";
import type { OutgoingHttpHeaders } from "node:http2";
import type { ClusterConfig } from "../config/model.js";
import type { Host } from "./host.js";
import type { PoolFailure, PoolWaiter, UpstreamPool } from "./upstream-pool.js";
import type { ClusterStats } from "./cluster-stats.js";
import { tlsFailureOf, type UpstreamTls } from "./upstream-tls.js";
import { RawH2Connection, type StreamSlotOwner } from "./raw-h2/raw-h2-connection.js";
import type { RawH2Stream } from "./raw-h2/raw-h2-stream.js";

const H2_ALPN = ["h2"];

/** Most connections one host gets, whatever the stream pressure. */
const MAX_CONNECTIONS_PER_HOST = 8;

interface QueuedRequest {
  headers: OutgoingHttpHeaders;
  endStream: boolean;
  waiter: PoolWaiter;
}

/** One pooled connection and its stream accounting. */
class PooledConnection implements StreamSlotOwner {
  active = 0;
  /**
   * Peer's SETTINGS_MAX_CONCURRENT_STREAMS. Until its SETTINGS arrive only one stream goes out, so a
   * peer with a low limit never has to refuse the queue we were holding.
   */
  maxStreams = 1;
  connected = false;
  draining = false;
  idleTimer: NodeJS.Timeout | undefined;
  connectTimer: NodeJS.Timeout | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  pingTimeout: NodeJS.Timeout | undefined;

  constructor(
    readonly conn: RawH2Connection,
    readonly pool: RawH2Pool,
  ) {}

  get hasRoom(): boolean {
    return !this.draining && this.active < this.maxStreams && this.conn.acceptsStreams;
  }

  onStreamClosed(): void {
    this.pool.onStreamClosed(this);
  }
}

/** Pool of raw HTTP/2 connections to one host. */
export class RawH2Pool implements UpstreamPool {
  private readonly conns: PooledConnection[] = [];
  private readonly queue: QueuedRequest[] = [];
  private closed = false;

  constructor(
    private readonly host: Host,
    private readonly cluster: ClusterConfig,
    private readonly stats: ClusterStats,
    private readonly tls?: UpstreamTls,
  ) {}

  get connections(): number {
    return this.conns.length;
  }

  /** How long a keepalive PING may go unanswered. */
  get keepaliveTimeoutMs(): number {
    return this.cluster.http2.keepaliveTimeoutMs;
  }

  /** A connection's connect timer fired before it came up. */
  connectTimedOut(): void {
    this.stats.cxConnectTimeout.inc();
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

  /** Opens another connection when requests wait and no live or connecting one can take them. */
  private maybeGrow(): void {
    if (this.queue.length === 0 || this.closed || this.conns.length >= MAX_CONNECTIONS_PER_HOST) return;
    if (this.conns.some((c) => !c.draining && (!c.connected || c.hasRoom))) return;
    this.connect();
  }

  cancel(waiter: PoolWaiter): void {
    const i = this.queue.findIndex((q) => q.waiter === waiter);
    if (i >= 0) this.queue.splice(i, 1);
  }

  close(): void {
    this.closed = true;
    for (const pc of [...this.conns]) {
      pc.draining = true;
      pc.conn.close();
    }
    this.failQueue("closed");
  }

  destroy(): void {
    this.closed = true;
    for (const pc of [...this.conns]) pc.conn.destroy();
    this.failQueue("closed");
  }

  private pick(): PooledConnection | undefined {
    const conns = this.conns;
    for (let i = 0; i < conns.length; i++) {
      const pc = conns[i];
      if (pc.connected && pc.hasRoom) return pc;
    }
    return undefined;
  }

  private open(pc: PooledConnection, headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void {
    let stream: RawH2Stream;
    try {
      stream = pc.conn.request(headers, endStream);
    } catch {
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

  /** A stream of `pc` left the wire: its slot takes a queued request, or the connection may idle. */
  onStreamClosed(pc: PooledConnection): void {
    pc.active--;
    if (this.queue.length > 0 && pc.connected && pc.hasRoom) this.drainQueueInto(pc);
    if (pc.active === 0 && !pc.conn.dead) {
      if (pc.draining) pc.conn.close();
      else this.armIdle(pc);
    }
  }

  private armIdle(pc: PooledConnection): void {
    const ms = this.cluster.idleTimeoutMs;
    if (ms <= 0 || pc.idleTimer !== undefined) return;
    pc.idleTimer = setTimeout(onIdleTimeout, ms, pc);
    pc.idleTimer.unref();
  }

  private drainQueueInto(pc: PooledConnection): void {
    while (this.queue.length > 0 && pc.hasRoom) {
      const q = this.queue.shift()!;
      this.open(pc, q.headers, q.endStream, q.waiter);
    }
  }

  private failQueue(reason: PoolFailure): void {
    const q = this.queue.splice(0);
    for (const r of q) r.waiter.onPoolFailure(reason);
  }

  private connect(): void {
    const { address, port } = this.host.address;
    const h2 = this.cluster.http2;
    const tls = this.tls;
    const socket = tls ? tls.connect(address, port, H2_ALPN) : net.connect({ host: address, port, noDelay: true });
    const conn = new RawH2Connection(socket, {
      authority: this.host.key,
      streamWindow: h2.initialStreamWindowSize,
      connectionWindow: h2.initialConnectionWindowSize,
    });
    const pc = new PooledConnection(conn, this);
    conn.owner = pc;
    this.conns.push(pc);
    this.host.stats.cxTotal++;
    this.stats.cxTotal.inc();
    this.stats.cxActive.value++;

    pc.connectTimer = setTimeout(onConnectTimeout, this.cluster.connectTimeoutMs, pc);
    pc.connectTimer.unref();

    conn.once("connect", () => {
      clearTimeout(pc.connectTimer);
      pc.connected = true;
      this.startKeepalive(pc);
      this.drainQueueInto(pc);
      if (pc.active === 0) this.armIdle(pc);
    });
    conn.on("remoteSettings", (maxConcurrent: number) => {
      pc.maxStreams = maxConcurrent;
      if (pc.connected) this.drainQueueInto(pc);
      this.maybeGrow();
    });
    conn.on("goaway", () => {
      pc.draining = true;
      this.remove(pc);
      // Queued requests need another connection, unless one is already coming up (a GOAWAY storm
      // must not open a connection per GOAWAY).
      this.maybeGrow();
    });
    conn.on("pingAck", () => {
      if (pc.pingTimeout !== undefined) {
        clearTimeout(pc.pingTimeout);
        pc.pingTimeout = undefined;
      }
    });
    conn.once("close", () => {
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
          this.failQueue(tlsFailureOf(socket) !== "" || conn.alpnMismatch ? "tls-failure" : "connect-failure");
        }
      } else {
        this.maybeGrow();
      }
    });
  }

  private startKeepalive(pc: PooledConnection): void {
    const interval = this.cluster.http2.keepaliveIntervalMs;
    if (interval <= 0) return;
    pc.pingTimer = setInterval(sendKeepalive, interval, pc);
    pc.pingTimer.unref();
  }

  private remove(pc: PooledConnection): void {
    const i = this.conns.indexOf(pc);
    if (i >= 0) this.conns.splice(i, 1);
  }
}

function onIdleTimeout(pc: PooledConnection): void {
  pc.idleTimer = undefined;
  if (pc.active === 0) {
    pc.draining = true;
    pc.conn.close();
  }
}

function onConnectTimeout(pc: PooledConnection): void {
  pc.connectTimer = undefined;
  if (pc.connected) return;
  pc.pool.connectTimedOut();
  pc.conn.destroy();
}

function sendKeepalive(pc: PooledConnection): void {
  // One PING in flight: an unanswered one is already timing out.
  if (pc.pingTimeout !== undefined) return;
  pc.pingTimeout = setTimeout(onKeepaliveTimeout, pc.pool.keepaliveTimeoutMs, pc);
  pc.pingTimeout.unref();
  pc.conn.ping();
}

function onKeepaliveTimeout(pc: PooledConnection): void {
  pc.pingTimeout = undefined;
  pc.conn.destroy();
}
