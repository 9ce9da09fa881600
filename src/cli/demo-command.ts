/**
 * `pilotfish demo` (what `npm start` runs). Until the full demo mesh exists: an example HTTP/2
 * backend and a sidecar in front of it, built from test/fixtures/bootstrap/example.yaml's shape,
 * with a few requests sent through so the output shows the proxy at work.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createLogger } from "../common/logger.js";
import { decodeBootstrap } from "../config/load-bootstrap.js";
import { Sidecar } from "../sidecar/sidecar.js";
import { EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";

export async function runDemo(durationSec: number | undefined): Promise<number> {
  const log = createLogger("pilotfish-demo");
  const backend = http2.createServer();
  let served = 0;
  backend.on("stream", (stream, headers) => {
    served++;
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end(`hello from the example backend: ${headers[":method"]} ${headers[":path"]}\n`);
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  const backendPort = (backend.address() as AddressInfo).port;

  const decoded = decodeBootstrap(demoBootstrap(backendPort));
  if (!decoded.ok) {
    log.error({ errors: decoded.errors }, "demo bootstrap invalid");
    return EXIT_FAILURE;
  }
  const sidecar = new Sidecar(decoded.value, log);
  const ports = await sidecar.start();
  const port = ports.listeners.demo;
  log.info({ admin_port: ports.admin, listener_port: port, backend_port: backendPort }, "sidecar ready");
  process.stdout.write(
    `\nPilotfish demo: a sidecar on 127.0.0.1:${port} proxies to an example backend on 127.0.0.1:${backendPort}.\n` +
      `  curl http://127.0.0.1:${port}/hello            (HTTP/1.1, forwarded over HTTP/2)\n` +
      `  curl --http2-prior-knowledge http://127.0.0.1:${port}/hello\n` +
      `  curl http://127.0.0.1:${ports.admin}/clusters   (admin: /stats, /config_dump, /ready)\n` +
      `Ctrl-C stops it.\n\n`,
  );

  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on("error", () => undefined);
  const tick = setInterval(() => {
    const req = client.request({ ":path": "/demo" });
    req.on("error", () => undefined);
    req.resume();
  }, 200);
  const report = setInterval(() => {
    const s = sidecar.stats.renderText(/^cluster\.backend\.upstream_rq_(total|2xx)$/).trim().replace(/\n/g, "  ");
    process.stdout.write(`served by backend: ${served}  ${s}\n`);
  }, 1000);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
    if (durationSec !== undefined) setTimeout(resolve, durationSec * 1000);
  });
  clearInterval(tick);
  clearInterval(report);
  client.close();
  await sidecar.shutdown();
  await new Promise<void>((r) => backend.close(() => r()));
  process.stdout.write(`demo finished: ${served} requests served through the sidecar\n`);
  return EXIT_OK;
}

function demoBootstrap(backendPort: number): unknown {
  return {
    node: { id: "demo-sidecar", cluster: "demo" },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 9901 } } },
    static_resources: {
      listeners: [
        {
          name: "demo",
          address: { socket_address: { address: "127.0.0.1", port_value: 10000 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "demo",
                    route_config: {
                      virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "backend" } }] }],
                    },
                    http_filters: [
                      { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: "backend",
          type: "STATIC",
          connect_timeout: "1s",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "backend",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: backendPort } } } }] }],
          },
        },
      ],
    },
  };
}
