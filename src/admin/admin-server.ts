/**
 * The sidecar's admin server, with Envoy's endpoint names so operators' habits carry over. Bind it
 * to loopback: it can drain the process.
 */
import { http } from "../common/node-http.js";
import type { IncomingMessage as HttpIncomingMessage, Server as HttpServer, ServerResponse as HttpServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SocketAddress } from "../config/model.js";
import type { StatsStore } from "../stats/stats-store.js";
import type { HealthCheckStats } from "../health/health-checker.js";
import type { OutlierDetector } from "../outlier/outlier-detector.js";
import { EJECTION_TYPES } from "../outlier/outlier-stats.js";
import type { ClusterManager } from "../upstream/cluster-manager.js";
import { HealthFlag } from "../upstream/host.js";

/** What the admin server reads from and acts on. */
export interface AdminTarget {
  /** Stats of the whole process. */
  readonly stats: StatsStore;
  /** Clusters for /clusters. */
  readonly clusters: ClusterManager;
  /** Whether the sidecar is live (false while draining or failing health checks). */
  isReady(): boolean;
  /** Config for /config_dump, already JSON-shaped. */
  configDump(): unknown;
  /** /healthcheck/fail (true) and /healthcheck/ok (false). */
  setHealthFailed(failed: boolean): void;
  /** /drain_listeners: stop listeners (inboundOnly is accepted for Envoy compatibility). */
  drainListeners(): void;
}

/** Starts the admin server; resolves with the bound port. */
export async function startAdminServer(address: SocketAddress, target: AdminTarget): Promise<HttpServer> {
  const server = http.createServer((req, res) => handle(target, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address.address, port: address.port }, () => resolve());
  });
  return server;
}

/** The bound port of a started admin server. */
export function adminPort(server: HttpServer): number {
  return (server.address() as AddressInfo).port;
}

const MUTATIONS = new Set(["/healthcheck/fail", "/healthcheck/ok", "/drain_listeners"]);

function handle(target: AdminTarget, req: HttpIncomingMessage, res: HttpServerResponse): void {
  const url = new URL(req.url ?? "/", "http://admin");
  const path = url.pathname;
  if (MUTATIONS.has(path) && req.method !== "POST") {
    return send(res, 400, "text/plain", `${path} requires POST\n`);
  }
  switch (path) {
    case "/ready":
      return target.isReady() ? send(res, 200, "text/plain", "LIVE\n") : send(res, 503, "text/plain", "DRAINING\n");
    case "/stats": {
      if (url.searchParams.get("format") === "json") return sendJson(res, target.stats.renderJson());
      const f = url.searchParams.get("filter");
      let re: RegExp | undefined;
      try {
        re = f !== null ? new RegExp(f) : undefined;
      } catch {
        return send(res, 400, "text/plain", `invalid filter regex: ${f}\n`);
      }
      return send(res, 200, "text/plain", target.stats.renderText(re));
    }
    case "/stats/prometheus":
      return send(res, 200, "text/plain; version=0.0.4", target.stats.renderPrometheus());
    case "/clusters":
      return url.searchParams.get("format") === "json"
        ? sendJson(res, clustersJson(target.clusters))
        : send(res, 200, "text/plain", clustersText(target.clusters));
    case "/config_dump":
      return sendJson(res, target.configDump());
    case "/healthcheck/fail":
      target.setHealthFailed(true);
      return send(res, 200, "text/plain", "OK\n");
    case "/healthcheck/ok":
      target.setHealthFailed(false);
      return send(res, 200, "text/plain", "OK\n");
    case "/drain_listeners":
      target.drainListeners();
      return send(res, 200, "text/plain", "OK\n");
    case "/":
      return send(res, 200, "text/plain", ["/ready", "/stats", "/stats/prometheus", "/clusters", "/config_dump",
        "POST /healthcheck/fail", "POST /healthcheck/ok", "POST /drain_listeners"].join("\n") + "\n");
    default:
      return send(res, 404, "text/plain", `unknown admin path ${path}\n`);
  }
}

/** `/clusters?format=json` (Envoy's shape); also what each worker reports to the primary. */
export function clustersJson(clusters: ClusterManager): unknown {
  return {
    cluster_statuses: [...clusters.all()].map((c) => {
      const od = c.outlier;
      return {
        name: c.name,
        circuit_breakers: c.config.circuitBreakers,
        // Envoy's fields, present when the success-rate detector ran in the last interval.
        ...(od !== undefined && od.srNumbers.external.threshold >= 0
          ? { success_rate_ejection_threshold: { value: od.srNumbers.external.threshold } }
          : {}),
        ...(od !== undefined && od.srNumbers.local.threshold >= 0
          ? { local_origin_success_rate_ejection_threshold: { value: od.srNumbers.local.threshold } }
          : {}),
        panic: c.panic,
        outlier_detection: od === undefined ? undefined : outlierCounters(od),
        health_check: c.healthChecker === undefined ? undefined : healthCheckCounters(c.healthChecker.stats),
        host_statuses: c.hosts.map((h) => {
          const m = od?.monitor(h);
          return {
            address: { socket_address: { address: h.address.address, port_value: h.address.port } },
            hostname: h.hostname,
            weight: h.weight,
            health_status: {
              flags: h.healthText(),
              eds_health_status: h.draining ? "DRAINING" : h.available ? "HEALTHY" : "UNHEALTHY",
              failed_outlier_check: (h.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0,
              failed_active_health_check: (h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0,
              failed_eds_health: (h.healthFlags & HealthFlag.FAILED_EDS_HEALTH) !== 0,
            },
            active_requests: h.activeRequests,
            connections: h.pool.connections,
            ...(m !== undefined && m.external.rate >= 0 ? { success_rate: { value: m.external.rate } } : {}),
            ...(m !== undefined && m.localOrigin.rate >= 0 ? { local_origin_success_rate: { value: m.localOrigin.rate } } : {}),
            outlier: m === undefined ? undefined : { ejections: m.numEjections, eject_time_backoff: m.ejectTimeBackoff },
            stats: {
              rq_total: h.stats.rqTotal,
              rq_success: h.stats.rqSuccess,
              rq_error: h.stats.rqError,
              rq_timeout: h.stats.rqTimeout,
              cx_total: h.stats.cxTotal,
              cx_connect_fail: h.stats.cxConnectFail,
            },
          };
        }),
      };
    }),
  };
}

/** A cluster's outlier counters, Envoy stat names without the `cluster.<name>.outlier_detection.` prefix. */
function outlierCounters(od: OutlierDetector): Record<string, number> {
  const s = od.stats;
  const out: Record<string, number> = {
    ejections_active: s.ejectionsActive.value,
    ejections_overflow: s.ejectionsOverflow.value,
    ejections_enforced_total: s.ejectionsEnforcedTotal.value,
  };
  for (const t of EJECTION_TYPES) {
    out[`ejections_detected_${t}`] = s.detected[t].value;
    out[`ejections_enforced_${t}`] = s.enforced[t].value;
  }
  return out;
}

function healthCheckCounters(s: HealthCheckStats): Record<string, number> {
  return {
    attempt: s.attempt.value,
    success: s.success.value,
    failure: s.failure.value,
    network_failure: s.networkFailure.value,
    healthy: s.healthy.value,
  };
}

function clustersText(clusters: ClusterManager): string {
  const lines: string[] = [];
  for (const c of clusters.all()) {
    const cb = c.config.circuitBreakers;
    lines.push(`${c.name}::default_priority::max_connections::${cb.maxConnections}`);
    lines.push(`${c.name}::default_priority::max_pending_requests::${cb.maxPendingRequests}`);
    lines.push(`${c.name}::default_priority::max_requests::${cb.maxRequests}`);
    lines.push(`${c.name}::default_priority::max_retries::${cb.maxRetries}`);
    for (const h of c.hosts) {
      const p = `${c.name}::${h.key}::`;
      lines.push(`${p}cx_total::${h.stats.cxTotal}`, `${p}cx_connect_fail::${h.stats.cxConnectFail}`);
      lines.push(`${p}rq_active::${h.activeRequests}`, `${p}rq_total::${h.stats.rqTotal}`);
      lines.push(`${p}rq_success::${h.stats.rqSuccess}`, `${p}rq_error::${h.stats.rqError}`);
      lines.push(`${p}rq_timeout::${h.stats.rqTimeout}`, `${p}health_flags::${h.healthText()}`);
      lines.push(`${p}weight::${h.weight}`, `${p}hostname::${h.hostname ?? ""}`);
      const m = c.outlier?.monitor(h);
      lines.push(`${p}success_rate::${m?.external.rate ?? -1}`, `${p}local_origin_success_rate::${m?.localOrigin.rate ?? -1}`);
      if (m !== undefined) lines.push(`${p}outlier_ejections::${m.numEjections}`);
    }
    const od = c.outlier;
    if (od !== undefined) {
      lines.push(`${c.name}::outlier::success_rate_average::${od.srNumbers.external.mean}`);
      lines.push(`${c.name}::outlier::success_rate_ejection_threshold::${od.srNumbers.external.threshold}`);
      lines.push(`${c.name}::outlier::local_origin_success_rate_average::${od.srNumbers.local.mean}`);
      lines.push(`${c.name}::outlier::local_origin_success_rate_ejection_threshold::${od.srNumbers.local.threshold}`);
      for (const [k, v] of Object.entries(outlierCounters(od))) lines.push(`${c.name}::outlier::${k}::${v}`);
    }
    if (c.healthChecker !== undefined) {
      for (const [k, v] of Object.entries(healthCheckCounters(c.healthChecker.stats))) lines.push(`${c.name}::health_check::${k}::${v}`);
    }
  }
  return lines.join("\n") + "\n";
}

function send(res: HttpServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: HttpServerResponse, value: unknown): void {
  send(res, 200, "application/json", JSON.stringify(value, (_k, v: unknown) => (v instanceof Set ? [...v] : v), 2) + "\n");
}
