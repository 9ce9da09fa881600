/**
 * HTTP/2 connection pool for one host on the raw frame client (src/upstream/raw-h2/), the default
 * (PILOTFISH_UPSTREAM_H2=node selects Http2Pool instead). The pool logic is MultiplexedPool's; this
 * file only plugs RawH2Connection into it. Stream slots come back through the connection's
 * StreamSlotOwner, so no stream carries a listener of the pool's.
 */
import type * as net from "node:net";
import type { OutgoingHttpHeaders } from "node:http2";
import { MultiplexedPool, type PooledConnection } from "./multiplexed-pool.js";
import { RawH2Connection } from "./raw-h2/raw-h2-connection.js";
import type { RawH2Stream } from "./raw-h2/raw-h2-stream.js";

type Pooled = PooledConnection<RawH2Connection>;

/** Pool of raw HTTP/2 connections to one host. */
export class RawH2Pool extends MultiplexedPool<RawH2Connection> {
  protected dial(socket: net.Socket): RawH2Connection {
    const h2 = this.cluster.http2;
    return new RawH2Connection(socket, {
      authority: this.host.key,
      streamWindow: h2.initialStreamWindowSize,
      connectionWindow: h2.initialConnectionWindowSize,
    });
  }

  protected watch(pc: Pooled): void {
    const conn = pc.conn;
    conn.owner = pc;
    conn.once("connect", () => this.connUp(pc));
    conn.on("remoteSettings", (maxConcurrent: number) => this.connSettings(pc, maxConcurrent));
    conn.on("goaway", () => this.connGoaway(pc));
    conn.on("pingAck", () => this.connPingAck(pc));
    conn.once("close", () => this.connClosed(pc));
  }

  protected openStream(pc: Pooled, headers: OutgoingHttpHeaders, endStream: boolean): RawH2Stream {
    return pc.conn.request(headers, endStream);
  }

  protected acceptsStreams(conn: RawH2Connection): boolean {
    return conn.acceptsStreams;
  }

  protected isDead(conn: RawH2Connection): boolean {
    return conn.dead;
  }

  protected ping(pc: Pooled): void {
    pc.conn.ping();
  }

  protected closeConn(conn: RawH2Connection): void {
    conn.close();
  }

  protected destroyConn(conn: RawH2Connection): void {
    conn.destroy();
  }

  protected alpnRejected(conn: RawH2Connection): boolean {
    return conn.alpnMismatch;
  }
}
