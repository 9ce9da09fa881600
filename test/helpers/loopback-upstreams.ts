/**
 * h2 upstreams on several loopback addresses (127.0.0.2, .3, ...) sharing one port, for DNS cluster
 * tests: A records carry no port, so the addresses must differ and the port must not. Each answers
 * 200 with its own address in `x-upstream` and as the body.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";

const IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** The running upstreams. */
export interface LoopbackUpstreams {
  /** The port every address listens on. */
  port: number;
  /** Server per address (closed ones removed). */
  servers: Map<string, http2.Http2Server>;
  /** Sessions each address accepted, in order. */
  sessions: Map<string, http2.ServerHttp2Session[]>;
  /** Destroys an address's sessions and closes its server. */
  close(ip: string): Promise<void>;
  /** Closes every address. */
  closeAll(): Promise<void>;
}

export async function startLoopbackUpstreams(ips: readonly string[] = IPS): Promise<LoopbackUpstreams> {
  for (let attempt = 0; ; attempt++) {
    const servers = new Map<string, http2.Http2Server>();
    const sessions = new Map<string, http2.ServerHttp2Session[]>();
    let port = 0;
    try {
      for (const ip of ips) {
        const s = http2.createServer();
        sessions.set(ip, []);
        s.on("session", (sess) => {
          sessions.get(ip)!.push(sess);
          sess.on("error", () => undefined);
        });
        s.on("stream", (stream) => {
          stream.on("error", () => undefined);
          stream.respond({ ":status": 200, "x-upstream": ip });
          stream.end(ip);
        });
        servers.set(ip, s);
        await new Promise<void>((resolve, reject) => {
          s.once("error", reject);
          s.listen(port, ip, () => resolve());
        });
        port = (s.address() as AddressInfo).port;
      }
    } catch (err) {
      // The first address's free port may be taken on another loopback address: pick again.
      for (const s of servers.values()) s.close();
      if (attempt >= 5) throw err;
      continue;
    }
    const close = async (ip: string): Promise<void> => {
      for (const sess of sessions.get(ip) ?? []) sess.destroy();
      const s = servers.get(ip);
      servers.delete(ip);
      if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
    };
    return {
      port,
      servers,
      sessions,
      close,
      async closeAll() {
        for (const ip of [...servers.keys()]) await close(ip);
      },
    };
  }
}

