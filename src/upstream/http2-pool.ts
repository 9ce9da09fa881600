/**
 * HTTP/2 connection pool for one host on node:http2's client, the fallback selected by
 * PILOTFISH_UPSTREAM_H2=node (RawH2Pool is the default). The pool logic is MultiplexedPool's; this
 * file only plugs ClientHttp2Session into it. A stream finds its session through a symbol tag read
 * by one shared 'close' listener (no closure per stream).
 */
import type * as net from "node:net";
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from "node:http2";
import { nodeHttp2 } from "../common/lazy-require.js";
import { MultiplexedPool, type PooledConnection } from "./multiplexed-pool.js";

type Pooled = PooledConnection<ClientHttp2Session>;

const kSession = Symbol("pilotfish.pooledSession");
type TaggedStream = ClientHttp2Stream & { [kSession]?: Pooled };

/** One shared 'close' listener for every pooled stream (no closure per stream). */
function onPooledStreamClose(this: TaggedStream): void {
  this[kSession]?.onStreamClosed();
}

/** Pool of node:http2 sessions to one host. */
export class Http2Pool extends MultiplexedPool<ClientHttp2Session> {
  protected dial(socket: net.Socket): ClientHttp2Session {
    const h2 = this.cluster.http2;
    return nodeHttp2().connect(`${this.tls ? "https" : "http"}://${this.host.key}`, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize: h2.initialStreamWindowSize },
      maxSessionMemory: 64,
    });
  }

  protected watch(pc: Pooled): void {
    const session = pc.conn;
    const connectionWindow = this.cluster.http2.initialConnectionWindowSize;
    session.once("connect", () => {
      if (connectionWindow > 65_535) session.setLocalWindowSize(connectionWindow);
      this.connUp(pc);
    });
    // 'connect' comes first: until these SETTINGS the session takes one stream.
    session.on("remoteSettings", (settings) => this.connSettings(pc, settings.maxConcurrentStreams ?? 0xffffffff));
    session.on("goaway", () => this.connGoaway(pc));
    session.on("error", () => {
      // Reported through 'close'; streams get their own errors.
    });
    session.once("close", () => this.connClosed(pc));
  }

  protected openStream(pc: Pooled, headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    const stream = pc.conn.request(headers, { endStream }) as TaggedStream;
    stream[kSession] = pc;
    stream.once("close", onPooledStreamClose);
    return stream;
  }

  protected acceptsStreams(): boolean {
    // node:http2 has no such state short of destroyed; request() throws, and open() marks the session draining.
    return true;
  }

  protected isDead(session: ClientHttp2Session): boolean {
    return session.destroyed;
  }

  protected ping(pc: Pooled): void {
    const session = pc.conn;
    session.ping((err) => {
      if (err) session.destroy(err);
      else this.connPingAck(pc);
    });
  }

  protected closeConn(session: ClientHttp2Session): void {
    session.close();
  }

  protected destroyConn(session: ClientHttp2Session, why?: string): void {
    if (why === undefined) session.destroy();
    else session.destroy(new Error(why));
  }

  protected alpnRejected(): boolean {
    // This pool has always judged TLS failures by the socket alone.
    return false;
  }
}
