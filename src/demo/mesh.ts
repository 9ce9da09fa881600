/**
 * The demo's configuration: the mesh.yaml the discovery server serves (written to a temp dir so the
 * user can edit it live) and the two sidecars' bootstraps (node identity, admin, and ADS to the
 * discovery server; everything else arrives over xDS).
 *
 * Topology (two hops, as in a real mesh):
 *   app → client sidecar, listener `outbound` (node cluster demo-client) → upstream `server-sidecar`
 *       → server sidecar, listener `inbound` (node cluster demo-server) → upstream `echo` → 3 backends
 */
import type { DemoBackend } from "./echo-service.js";

export interface DemoPorts {
  /** The client sidecar's outbound listener (the app's target). */
  readonly outbound: number;
  /** The server sidecar's inbound listener. */
  readonly inbound: number;
}

/** Node clusters: they select which listener each sidecar receives. */
export const CLIENT_NODE = { id: "demo-client-sidecar", cluster: "demo-client" } as const;
export const SERVER_NODE = { id: "demo-server-sidecar", cluster: "demo-server" } as const;
/** The upstream of the backends (a cluster of the server sidecar). */
export const BACKENDS_UPSTREAM = "echo";

function note(b: DemoBackend): string {
  switch (b.behaviour.kind) {
    case "healthy":
      return "healthy: answers in ~1 ms";
    case "slow":
      return `slow: +${b.behaviour.extraDelayMs} ms per call`;
    case "flaky":
      return `flaky: UNAVAILABLE from ${b.behaviour.failAfterMs / 1000} s to ${(b.behaviour.failAfterMs + b.behaviour.failForMs) / 1000} s`;
  }
}

export function demoMeshYaml(backends: readonly DemoBackend[], ports: DemoPorts): string {
  return `# Pilotfish demo mesh, served by the demo's discovery server. Edit and save: the change reaches both
# sidecars within a second (a bad edit is rejected and the last good mesh stays). Reference:
# docs/mesh-config.md; ideas in docs/demo.md. Things to try on upstream "echo":
#   balance: round_robin           the slow backend gets a third of the calls: p99 goes up
#   retries: 1                     calls failed by the flaky backend are retried on another one
#   outlierDetection: {enabled: false}   the flaky backend stays in rotation while it fails
#   status: draining (on a node)   takes that backend out of new traffic
upstreams:
  - name: ${BACKENDS_UPSTREAM}
    protocol: grpc
    balance: least_request
    nodes:
${backends.map((b) => `      - address: ${b.address}   # ${b.name} (${note(b)})`).join("\n")}
    connectTimeout: 1s
    retries: 0
    outlierDetection:
      consecutive5xx: 5
      interval: 1s
      baseEjectionTime: 5s
      maxEjectionPercent: 50
  - name: server-sidecar
    protocol: grpc
    nodes:
      - address: 127.0.0.1:${ports.inbound}   # the server sidecar's inbound listener
    outlierDetection: { enabled: false }
routes:
  - name: outbound
    hosts: ["*"]
    rules:
      - match: { prefix: / }
        upstream: server-sidecar
  - name: inbound
    hosts: ["*"]
    rules:
      - match: { prefix: / }
        upstream: ${BACKENDS_UPSTREAM}
listeners:
  - name: outbound               # the app dials this one
    address: 127.0.0.1:${ports.outbound}
    route: outbound
    nodes: { cluster: ${CLIENT_NODE.cluster} }
  - name: inbound                # the server-side sidecar, in front of the backends
    address: 127.0.0.1:${ports.inbound}
    route: inbound
    nodes: { cluster: ${SERVER_NODE.cluster} }
`;
}

/** A sidecar bootstrap (Envoy v3 JSON shape): node, admin on `adminPort`, LDS/CDS over ADS from `xdsPort`. */
export function demoSidecarBootstrap(node: { id: string; cluster: string }, adminPort: number, xdsPort: number): unknown {
  return {
    node,
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: "GRPC",
        transport_api_version: "V3",
        grpc_services: [{ envoy_grpc: { cluster_name: "xds" } }],
      },
      lds_config: { ads: {} },
      cds_config: { ads: {} },
    },
    static_resources: {
      clusters: [
        {
          name: "xds",
          type: "STATIC",
          connect_timeout: "1s",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "xds",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: xdsPort } } } }] }],
          },
        },
      ],
    },
  };
}
