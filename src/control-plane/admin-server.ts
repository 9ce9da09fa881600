/**
 * The discovery server's admin HTTP server: GET /nodes, /ready, /metrics, /config, and the dashboard
 * at /ui (ui-server.ts). Read-only, JSON (except Prometheus text and the page); bind it to loopback or
 * a management network.
 */
import { http } from "../common/node-http.js";
import type { IncomingMessage as HttpIncomingMessage, Server as HttpServer, ServerResponse as HttpServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AdsMetrics } from "./ads-server-metrics.js";
import type { NodeRegistry } from "./node-registry.js";
import { handleUi, isUiPath } from "./ui-server.js";

/** What the admin server reads. */
export interface ControlPlaneAdminTarget {
  /** Open streams for /nodes. */
  readonly registry: NodeRegistry;
  /** Metrics for /metrics. */
  readonly metrics: AdsMetrics;
  /** True once the xDS port serves a loaded mesh. */
  isReady(): boolean;
  /** The /config document: mesh in force and the last error. */
  configView(): unknown;
}

function sendJson(res: HttpServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + "\n";
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: HttpServerResponse, code: number, text: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(code, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function handle(target: ControlPlaneAdminTarget, req: HttpIncomingMessage, res: HttpServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://admin").pathname;
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendText(res, 405, "method not allowed\n");
    return;
  }
  if (isUiPath(path)) {
    await handleUi(target, req, res, path);
    return;
  }
  switch (path) {
    case "/nodes":
      sendJson(res, 200, target.registry.toJSON());
      return;
    case "/ready":
      if (target.isReady()) sendText(res, 200, "LIVE\n");
      else sendText(res, 503, "NOT READY\n");
      return;
    case "/metrics":
      sendText(res, 200, await target.metrics.registry.metrics(), target.metrics.registry.contentType);
      return;
    case "/config":
    case "/mesh":
      sendJson(res, 200, target.configView());
      return;
    case "/":
      sendText(res, 200, "pilotfish control plane admin: /nodes /ready /metrics /config /ui\n");
      return;
    default:
      sendText(res, 404, `no admin endpoint ${path}\n`);
  }
}

/** Starts the admin server on host:port (0 picks a port). */
export async function startControlPlaneAdmin(host: string, port: number, target: ControlPlaneAdminTarget): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    handle(target, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

/** The bound port of a started admin server. */
export function controlPlaneAdminPort(server: HttpServer): number {
  return (server.address() as AddressInfo).port;
}

/** Closes the admin server, dropping idle keep-alive connections. */
export async function stopControlPlaneAdmin(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
