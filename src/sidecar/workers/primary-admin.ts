/**
 * The admin server of a worker primary: Envoy's endpoints, answered from all workers at once.
 * Stats are summed (plus `http.<prefix>.worker_<i>.downstream_rq_total` / `downstream_cx_total` per
 * worker, and `?worker=<i>` for one worker's own stats), /clusters merges each host's counters, /ready
 * is LIVE only when every worker is, /config_dump is worker 0's (they run the same config), and the
 * POST actions go to every worker.
 */
import { http } from "../../common/node-http.js";
import type { IncomingMessage as HttpIncomingMessage, Server as HttpServer, ServerResponse as HttpServerResponse } from "node:http";
import type { SocketAddress } from "../../config/model.js";
import { StatsStore, type StatsSnapshot } from "../../stats/stats-store.js";
import type { WorkerPrimary } from "./primary.js";
import type { WorkerQuery } from "./worker-protocol.js";

const MUTATIONS: Record<string, WorkerQuery> = {
  "/healthcheck/fail": "healthcheck_fail",
  "/healthcheck/ok": "healthcheck_ok",
  "/drain_listeners": "drain_listeners",
};

/** Per-worker copies of these stats show how the kernel spread the load. */
const PER_WORKER = /^http\.([^.]+)\.(downstream_rq_total|downstream_cx_total)$/;

/** Starts the aggregated admin server. */
export async function startPrimaryAdmin(address: SocketAddress, primary: WorkerPrimary, onDrain: () => void): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    handle(primary, onDrain, req, res).catch((err: unknown) => send(res, 500, "text/plain", `admin error: ${(err as Error).message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address.address, port: address.port }, () => resolve());
  });
  return server;
}

async function handle(primary: WorkerPrimary, onDrain: () => void, req: HttpIncomingMessage, res: HttpServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://admin");
  const path = url.pathname;
  const action = MUTATIONS[path];
  if (action !== undefined) {
    if (req.method !== "POST") return send(res, 400, "text/plain", `${path} requires POST\n`);
    await primary.query(action);
    if (action === "drain_listeners") onDrain();
    return send(res, 200, "text/plain", "OK\n");
  }
  switch (path) {
    case "/ready": {
      const answers = await primary.query("ready");
      const live = primary.allReady && answers.every((a) => a === true);
      return live ? send(res, 200, "text/plain", "LIVE\n") : send(res, 503, "text/plain", "DRAINING\n");
    }
    case "/stats":
    case "/stats/prometheus": {
      const w = url.searchParams.get("worker");
      const store = await mergedStats(primary, w === null ? undefined : Number(w));
      if (store === undefined) return send(res, 404, "text/plain", `no such worker: ${w}\n`);
      if (path === "/stats/prometheus") return send(res, 200, "text/plain; version=0.0.4", store.renderPrometheus());
      if (url.searchParams.get("format") === "json") return sendJson(res, store.renderJson());
      const f = url.searchParams.get("filter");
      let re: RegExp | undefined;
      try {
        re = f !== null ? new RegExp(f) : undefined;
      } catch {
        return send(res, 400, "text/plain", `invalid filter regex: ${f}\n`);
      }
      return send(res, 200, "text/plain", store.renderText(re));
    }
    case "/clusters": {
      const merged = mergeClusters(await primary.query("clusters"));
      return url.searchParams.get("format") === "json" ? sendJson(res, merged) : send(res, 200, "text/plain", clustersText(merged));
    }
    case "/config_dump":
      return sendJson(res, (await primary.query("config_dump")).find((d) => d !== undefined) ?? {});
    case "/":
      return send(res, 200, "text/plain", ["/ready", "/stats", "/stats?worker=<i>", "/stats/prometheus", "/clusters", "/config_dump",
        "POST /healthcheck/fail", "POST /healthcheck/ok", "POST /drain_listeners"].join("\n") + "\n");
    default:
      return send(res, 404, "text/plain", `unknown admin path ${path}\n`);
  }
}

/** Sum of every worker's stats and the primary's own; or one worker's (undefined if it has none). */
async function mergedStats(primary: WorkerPrimary, worker: number | undefined): Promise<StatsStore | undefined> {
  const snaps = (await primary.query("stats")) as (StatsSnapshot | undefined)[];
  const store = new StatsStore();
  if (worker !== undefined) {
    const s = snaps[worker];
    if (s === undefined) return undefined;
    store.addSnapshot(s);
    return store;
  }
  store.addSnapshot(primary.stats.snapshot());
  snaps.forEach((s, i) => {
    if (s === undefined) return;
    store.addSnapshot(s);
    const own = { counters: s.counters.filter(([n]) => PER_WORKER.test(n)), gauges: [], histograms: [] };
    store.addSnapshot(own, (n) => n.replace(PER_WORKER, `http.$1.worker_${i}.$2`));
  });
  return store;
}

interface HostStatus {
  address: { socket_address: { address: string; port_value: number } };
  active_requests: number;
  connections: number;
  stats: Record<string, number>;
  health_status: { flags: string };
  weight: number;
  hostname?: string;
  [k: string]: unknown;
}
interface ClusterStatus {
  name: string;
  circuit_breakers: Record<string, number>;
  host_statuses: HostStatus[];
  [k: string]: unknown;
}

/**
 * Workers' /clusters in one: clusters and hosts by name and address; each host's active requests,
 * connections and counters summed; the rest (health, outlier state) from the first worker that has
 * the host, since every worker checks and ejects on its own.
 */
export function mergeClusters(answers: unknown[]): { cluster_statuses: ClusterStatus[] } {
  const clusters = new Map<string, ClusterStatus>();
  for (const a of answers) {
    const list = (a as { cluster_statuses?: ClusterStatus[] } | undefined)?.cluster_statuses ?? [];
    for (const c of list) {
      const have = clusters.get(c.name);
      if (have === undefined) {
        clusters.set(c.name, structuredClone(c));
        continue;
      }
      for (const h of c.host_statuses) {
        const key = `${h.address.socket_address.address}:${h.address.socket_address.port_value}`;
        const mine = have.host_statuses.find((x) => `${x.address.socket_address.address}:${x.address.socket_address.port_value}` === key);
        if (mine === undefined) {
          have.host_statuses.push(structuredClone(h));
          continue;
        }
        mine.active_requests += h.active_requests;
        mine.connections += h.connections;
        for (const [k, v] of Object.entries(h.stats)) mine.stats[k] = (mine.stats[k] ?? 0) + v;
      }
    }
  }
  return { cluster_statuses: [...clusters.values()] };
}

/** Envoy's /clusters text for the merged view (the lines the in-process admin prints per host). */
function clustersText(merged: { cluster_statuses: ClusterStatus[] }): string {
  const lines: string[] = [];
  for (const c of merged.cluster_statuses) {
    const cb = c.circuit_breakers;
    lines.push(`${c.name}::default_priority::max_connections::${cb.maxConnections}`);
    lines.push(`${c.name}::default_priority::max_pending_requests::${cb.maxPendingRequests}`);
    lines.push(`${c.name}::default_priority::max_requests::${cb.maxRequests}`);
    lines.push(`${c.name}::default_priority::max_retries::${cb.maxRetries}`);
    for (const h of c.host_statuses) {
      const p = `${c.name}::${h.address.socket_address.address}:${h.address.socket_address.port_value}::`;
      lines.push(`${p}cx_total::${h.stats.cx_total}`, `${p}cx_connect_fail::${h.stats.cx_connect_fail}`);
      lines.push(`${p}rq_active::${h.active_requests}`, `${p}rq_total::${h.stats.rq_total}`);
      lines.push(`${p}rq_success::${h.stats.rq_success}`, `${p}rq_error::${h.stats.rq_error}`);
      lines.push(`${p}rq_timeout::${h.stats.rq_timeout}`, `${p}health_flags::${h.health_status.flags}`);
      lines.push(`${p}weight::${h.weight}`, `${p}hostname::${h.hostname ?? ""}`);
    }
  }
  return lines.join("\n") + "\n";
}

function send(res: HttpServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: HttpServerResponse, value: unknown): void {
  send(res, 200, "application/json", JSON.stringify(value, null, 2) + "\n");
}
