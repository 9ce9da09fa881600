/**
 * HTTP health checking: GET path over HTTP/1.1 (Envoy's default codec_client_type), passing when the
 * status lies in one of the expected ranges (200 only by default). Connections are kept between
 * checks when reuse_connection is on.
 */
import type { Agent } from "node:http";
import { http } from "../common/node-http.js";
import type { HeaderValueOption, StatusRange } from "../config/model.js";
import type { Host } from "../upstream/host.js";
import type { UpstreamTls } from "../upstream/upstream-tls.js";
import type { CheckVerdict, ProtocolChecker } from "./checker.js";

export class HttpHealthChecker implements ProtocolChecker {
  private readonly agent: Agent;

  constructor(
    private readonly path: string,
    private readonly authority: string,
    private readonly expected: readonly StatusRange[],
    private readonly headersToAdd: readonly HeaderValueOption[],
    private readonly headersToRemove: readonly string[],
    reuseConnection: boolean,
    /** The cluster's TLS origination: checks connect the way requests do. */
    tls?: UpstreamTls,
  ) {
    this.agent = new http.Agent({ keepAlive: reuseConnection, maxSockets: 1 });
    if (tls !== undefined) {
      this.agent.createConnection = (opts: { host?: string | null; port?: number | null }) => tls.connect(opts.host ?? "", opts.port ?? 0, ["http/1.1"]);
    }
  }

  check(host: Host, timeoutMs: number): Promise<CheckVerdict> {
    const headers: Record<string, string> = { host: this.authority, "user-agent": "pilotfish-health-checker" };
    for (const h of this.headersToAdd) headers[h.name] = h.append && headers[h.name] !== undefined ? `${headers[h.name]},${h.value}` : h.value;
    for (const n of this.headersToRemove) delete headers[n];
    return new Promise<CheckVerdict>((resolve) => {
      let settled = false;
      const done = (v: CheckVerdict): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const req = http.request(
        { host: host.address.address, port: host.address.port, path: this.path, method: "GET", headers, agent: this.agent },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on("end", () => done(this.expected.some((r) => status >= r.start && status < r.end) ? "healthy" : "active"));
          res.on("error", () => done("network"));
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        done("network");
      }, timeoutMs);
      timer.unref();
      req.on("error", () => done("network"));
      req.end();
    });
  }

  release(): void {
    // Per-host sockets live in the agent and time out on their own.
  }

  close(): void {
    this.agent.destroy();
  }
}
