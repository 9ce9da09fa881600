/**
 * HTTP/2 connection pool for one host: a few sessions multiplexing many streams.
 *
 * One session is preferred (more requests per write, and grpc-js upstreams slow to 0.4x when fed one
 * stream per connection); another opens only when every live session is at the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS. A session that receives GOAWAY takes no new streams and closes
 * when its last stream ends; streams the peer never processed come back to the router as refused
 * streams, which it replays on a fresh session.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from "node:http2";
import type { ClusterConfig } from "../config/model.js";
import type { Host } from "./host.js";
import type { PoolFailure, PoolWaiter, UpstreamPool } from "./upstream-pool.js";
import type { ClusterStats } from "./cluster-stats.js";
import { tlsFailureOf, type UpstreamTls } from "./upstream-tls.js";

const H2_ALPN = ["h2"];

/** Most sessions one host gets, whatever the stream pressure. */
const MAX_SESSIONS_PER_HOST = 8;

interface QueuedRequest {
  headers: OutgoingHttpHeaders;
  endStream: boolean;
  waiter: PoolWaiter;
}

/** One HTTP/2 connection and its stream accounting. */
class PooledSession {
  active = 0;
  /**
   * Peer's SETTINGS_MAX_CONCURRENT_STREAMS. Until its SETTINGS arrive ('connect' comes first) only one
   * stream goes out, so a peer with a low limit never has to refuse the queue we were holding.
   */
  maxStreams = 1;
  connected = false;
  draining = false;
  idleTimer: NodeJS.Timeout | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  /** The transport socket, kept to learn why a connect failed (the session forgets it). */
  socket: net.Socket | undefined;
  constructor(
    readonly session: ClientHttp2Session,
    readonly pool: Http2Pool,
  ) {}

  get hasRoom(): boolean {
    return !this.draining && this.active < this.maxStreams;
  }
}

const kSession = Symbol("pilotfish.pooledSession");
type TaggedStream = ClientHttp2Stream & { [kSession]?: PooledSession };

/** One shared 'close' listener for every pooled stream (no closure per stream). */
function onPooledStreamClose(this: TaggedStream): void {
  const ps = this[kSession];
  if (ps !== undefined) ps.pool.onStreamClosed(ps);
}

/** Pool of HTTP/2 sessions to one host. */
export class Http2Pool implements UpstreamPool {
  private readonly sessions: PooledSession[] = [];
  private readonly queue: QueuedRequest[] = [];
  private closed = false;

  constructor(
    private readonly host: Host,
    private readonly cluster: ClusterConfig,
    private readonly stats: ClusterStats,
    private readonly tls?: UpstreamTls,
  ) {}

  get connections(): number {
    return this.sessions.length;
  }

  request(headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void {
    if (this.closed) {
      waiter.onPoolFailure("closed");
      return;
    }
    const ps = this.pickSession();
    if (ps !== undefined) {
      this.open(ps, headers, endStream, waiter);
      return;
    }
    if (this.queue.length >= this.cluster.circuitBreakers.maxPendingRequests) {
      waiter.onPoolFailure("overflow");
      return;
    }
    this.queue.push({ headers, endStream, waiter });
    this.maybeGrow();
  }

  /** Opens another session when requests wait and no live or connecting session can take them. */
  private maybeGrow(): void {
    if (this.queue.length === 0 || this.closed || this.sessions.length >= MAX_SESSIONS_PER_HOST) return;
    if (this.sessions.some((s) => !s.draining && (!s.connected || s.hasRoom))) return;
    this.connect();
  }

  cancel(waiter: PoolWaiter): void {
    const i = this.queue.findIndex((q) => q.waiter === waiter);
    if (i >= 0) this.queue.splice(i, 1);
  }

  close(): void {
    this.closed = true;
    for (const ps of this.sessions) {
      ps.draining = true;
      ps.session.close();
    }
    this.failQueue("closed");
  }

  destroy(): void {
    this.closed = true;
    for (const ps of [...this.sessions]) ps.session.destroy();
    this.failQueue("closed");
  }

  private pickSession(): PooledSession | undefined {
    const sessions = this.sessions;
    for (let i = 0; i < sessions.length; i++) {
      const ps = sessions[i];
      if (ps.connected && ps.hasRoom) return ps;
    }
    return undefined;
  }

  private open(ps: PooledSession, headers: OutgoingHttpHeaders, endStream: boolean, waiter: PoolWaiter): void {
    let stream: ClientHttp2Stream;
    try {
      stream = ps.session.request(headers, { endStream });
    } catch {
      // The session died between the check and the request (e.g. it just received GOAWAY).
      ps.draining = true;
      waiter.onPoolFailure("closed");
      return;
    }
    ps.active++;
    if (ps.idleTimer !== undefined) {
      clearTimeout(ps.idleTimer);
      ps.idleTimer = undefined;
    }
    (stream as TaggedStream)[kSession] = ps;
    stream.once("close", onPooledStreamClose);
    waiter.onPoolReady(stream);
  }

  /** A stream of `ps` closed: its slot takes a queued request, or the session may idle. */
  onStreamClosed(ps: PooledSession): void {
    ps.active--;
    if (this.queue.length > 0 && ps.connected && ps.hasRoom) this.drainQueueInto(ps);
    if (ps.active === 0) {
      if (ps.draining) ps.session.close();
      else this.armIdle(ps);
    }
  }

  private armIdle(ps: PooledSession): void {
    const ms = this.cluster.idleTimeoutMs;
    if (ms <= 0 || ps.idleTimer !== undefined) return;
    ps.idleTimer = setTimeout(() => {
      ps.idleTimer = undefined;
      if (ps.active === 0) {
        ps.draining = true;
        ps.session.close();
      }
    }, ms);
    ps.idleTimer.unref();
  }

  private drainQueueInto(ps: PooledSession): void {
    while (this.queue.length > 0 && ps.hasRoom && !ps.session.destroyed) {
      const q = this.queue.shift()!;
      this.open(ps, q.headers, q.endStream, q.waiter);
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
    let socket: net.Socket | undefined;
    const session = http2.connect(`${tls ? "https" : "http"}://${this.host.key}`, {
      createConnection: () => (socket = tls ? tls.connect(address, port, H2_ALPN) : net.connect({ host: address, port, noDelay: true })),
      settings: { enablePush: false, initialWindowSize: h2.initialStreamWindowSize },
      maxSessionMemory: 64,
    });
    const ps = new PooledSession(session, this);
    ps.socket = socket;
    this.sessions.push(ps);
    this.host.stats.cxTotal++;
    this.stats.cxTotal.inc();
    this.stats.cxActive.value++;

    const connectTimer = setTimeout(() => {
      this.stats.cxConnectTimeout.inc();
      session.destroy(new Error("connect timeout"));
    }, this.cluster.connectTimeoutMs);
    connectTimer.unref();

    session.once("connect", () => {
      clearTimeout(connectTimer);
      ps.connected = true;
      if (h2.initialConnectionWindowSize > 65_535) session.setLocalWindowSize(h2.initialConnectionWindowSize);
      this.startKeepalive(ps);
      this.drainQueueInto(ps);
      if (ps.active === 0) this.armIdle(ps);
    });
    session.on("remoteSettings", (settings) => {
      ps.maxStreams = settings.maxConcurrentStreams ?? 0xffffffff;
      if (ps.connected) this.drainQueueInto(ps);
      this.maybeGrow();
    });
    session.on("goaway", () => {
      ps.draining = true;
      this.removeSession(ps);
      // Queued requests need another session, unless one is already coming up (a GOAWAY storm must
      // not open a session per GOAWAY).
      this.maybeGrow();
    });
    session.on("error", () => {
      // Reported through 'close'; streams get their own errors.
    });
    session.once("close", () => {
      clearTimeout(connectTimer);
      if (ps.idleTimer !== undefined) clearTimeout(ps.idleTimer);
      if (ps.pingTimer !== undefined) clearInterval(ps.pingTimer);
      this.stats.cxActive.value--;
      const wasConnected = ps.connected;
      this.removeSession(ps);
      if (!wasConnected) {
        this.host.stats.cxConnectFail++;
        this.stats.cxConnectFail.inc();
        // Queued requests were waiting for this session; fail them unless another is on its way.
        if (!this.sessions.some((s) => !s.draining)) this.failQueue(tlsFailureOf(ps.socket) === "" ? "connect-failure" : "tls-failure");
      } else {
        this.maybeGrow();
      }
    });
  }

  private startKeepalive(ps: PooledSession): void {
    const interval = this.cluster.http2.keepaliveIntervalMs;
    if (interval <= 0) return;
    const timeout = this.cluster.http2.keepaliveTimeoutMs;
    ps.pingTimer = setInterval(() => {
      let acked = false;
      const timer = setTimeout(() => {
        if (!acked) ps.session.destroy(new Error("keepalive timeout"));
      }, timeout);
      timer.unref();
      ps.session.ping((err) => {
        acked = err === null;
        clearTimeout(timer);
        if (err) ps.session.destroy(err);
      });
    }, interval);
    ps.pingTimer.unref();
  }

  private removeSession(ps: PooledSession): void {
    const i = this.sessions.indexOf(ps);
    if (i >= 0) this.sessions.splice(i, 1);
  }
}
