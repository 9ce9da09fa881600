/**
 * A real DNS server on 127.0.0.1 (dns2, UDP) for DNS cluster tests: mutable A records with TTLs,
 * NXDOMAIN for unknown names, NODATA for other types, and stop()/start() on the same port to play a
 * resolver outage.
 */
import { createServer, Packet } from "dns2";
import type { SocketAddress } from "../../src/config/model.js";

type Server = ReturnType<typeof createServer>;

/** One name's A records. */
interface ARecords {
  ips: string[];
  ttl: number;
}

export class TestDnsServer {
  private readonly records = new Map<string, ARecords>();
  private server: Server | undefined;
  private port = 0;
  /** A queries answered so far, per name (lower case). */
  readonly aQueries = new Map<string, number>();

  /** Starts a server on an ephemeral port. */
  static async create(): Promise<TestDnsServer> {
    const s = new TestDnsServer();
    await s.start();
    return s;
  }

  /** Where the sidecar should send queries. */
  get address(): SocketAddress {
    return { address: "127.0.0.1", port: this.port };
  }

  /** Sets `name`'s A records (an empty list answers NOERROR with no records, i.e. NODATA). */
  setA(name: string, ips: string[], ttl = 1): void {
    this.records.set(name.toLowerCase(), { ips: [...ips], ttl });
  }

  /** Forgets `name`: queries get NXDOMAIN. */
  remove(name: string): void {
    this.records.delete(name.toLowerCase());
  }

  /** Starts (again, on the same port after stop()). */
  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer({
      udp: true,
      handle: (request, send) => {
        const response = Packet.createResponseFromRequest(request);
        for (const q of request.questions) {
          const name = q.name.toLowerCase();
          const rec = this.records.get(name);
          if (rec === undefined) {
            response.header.rcode = Packet.RCODE.NXDOMAIN;
            continue;
          }
          if (q.type !== Packet.TYPE.A) continue;
          this.aQueries.set(name, (this.aQueries.get(name) ?? 0) + 1);
          for (const ip of rec.ips) {
            response.answers.push(Packet.createResourceFromQuestion(q, { type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: rec.ttl, address: ip }));
          }
        }
        void send(response);
      },
    });
    const addrs = await server.listen({ udp: { port: this.port, address: "127.0.0.1" } });
    this.port = addrs.udp?.port ?? this.port;
    this.server = server;
  }

  /** Stops answering: queries to the port are refused until start(). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.close();
  }

  /** A queries for `name` so far. */
  queriesFor(name: string): number {
    return this.aQueries.get(name.toLowerCase()) ?? 0;
  }
}
