/** Good bootstraps decode to the expected, deeply frozen domain model. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { ErrorCode, PilotfishError } from "../../../src/common/errors.js";
import { decodeBootstrap, loadBootstrapFile } from "../../../src/config/load-bootstrap.js";
import type { Bootstrap, ClusterConfig, RouteAction } from "../../../src/config/model.js";
import { camelize, FIXTURES, fixture, isDeeplyFrozen, parts } from "./bootstrap-helpers.js";

const NO_HEADERS = { requestToAdd: [], requestToRemove: [], responseToAdd: [], responseToRemove: [] };

const EXAMPLE: Bootstrap = {
  node: { id: "example-sidecar", cluster: "example", metadata: {}, locality: { region: "", zone: "", subZone: "" } },
  admin: { address: { address: "127.0.0.1", port: 9901 } },
  listeners: [
    {
      name: "ingress",
      address: { address: "127.0.0.1", port: 10000 },
      tls: undefined,
      hcm: {
        statPrefix: "ingress",
        routeConfig: {
          name: "local",
          virtualHosts: [
            {
              name: "all",
              domains: ["*"],
              routes: [
                {
                  name: "",
                  match: { path: { kind: "prefix", value: "/" }, caseSensitive: true, headers: [], grpcOnly: false },
                  action: {
                    kind: "route",
                    clusters: [{ name: "backend", weight: 1 }],
                    prefixRewrite: undefined,
                    hostRewrite: { kind: "pass" },
                    timeoutMs: undefined,
                    idleTimeoutMs: undefined,
                    retryPolicy: undefined,
                    maxStreamDuration: {
                      maxStreamDurationMs: undefined,
                      grpcTimeoutHeaderMaxMs: undefined,
                      grpcTimeoutHeaderOffsetMs: 0,
                    },
                  },
                  headers: NO_HEADERS,
                },
              ],
              retryPolicy: undefined,
              headers: NO_HEADERS,
            },
          ],
          headers: NO_HEADERS,
        },
        httpFilters: [{ name: "envoy.filters.http.router", kind: "router" }],
        streamIdleTimeoutMs: 300_000,
        requestTimeoutMs: 0,
        idleTimeoutMs: 3_600_000,
        maxStreamDurationMs: 0,
        drainTimeoutMs: 5_000,
        generateRequestId: true,
        http2: { maxConcurrentStreams: 1024, initialStreamWindowSize: 1 << 20, initialConnectionWindowSize: 2 << 20 },
        maxHeadersCount: 100,
        maxRequestHeadersKb: 60,
      },
    },
  ],
  clusters: [
    {
      name: "backend",
      type: "STATIC",
      connectTimeoutMs: 1000,
      lbPolicy: "ROUND_ROBIN",
      leastRequest: { choiceCount: 2, activeRequestBias: 1 },
      healthyPanicThreshold: 50,
      endpoints: [
        {
          locality: { region: "", zone: "", subZone: "" },
          weight: 1,
          endpoints: [{ address: { address: "127.0.0.1", port: 10001 }, weight: 1, healthStatus: "UNKNOWN", hostname: undefined }],
        },
      ],
      protocol: "http2",
      http2: {
        maxConcurrentStreams: 1024,
        initialStreamWindowSize: 1 << 20,
        initialConnectionWindowSize: 2 << 20,
        keepaliveIntervalMs: 0,
        keepaliveTimeoutMs: 20_000,
      },
      idleTimeoutMs: 3_600_000,
      circuitBreakers: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
    },
  ],
};

function ok(doc: unknown): Bootstrap {
  const result = decodeBootstrap(doc);
  if (!result.ok) assert.fail(result.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return result.value;
}

void describe("example.yaml", () => {
  void test("decodes to the expected model with Envoy's defaults", () => {
    assert.deepStrictEqual(loadBootstrapFile(path.join(FIXTURES, "example.yaml")), EXAMPLE);
  });

  void test("is deeply frozen", () => {
    assert.ok(isDeeplyFrozen(loadBootstrapFile(path.join(FIXTURES, "example.yaml"))));
  });

  void test("lowerCamelCase JSON names decode the same", () => {
    assert.deepStrictEqual(ok(camelize(fixture("example.yaml"))), EXAMPLE);
  });

  void test("a .json file decodes the same", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pf-bootstrap-"));
    const file = path.join(dir, "example.json");
    writeFileSync(file, JSON.stringify(fixture("example.yaml")));
    assert.deepStrictEqual(loadBootstrapFile(file), EXAMPLE);
  });
});

void describe("envoy-realistic.yaml", () => {
  const b = loadBootstrapFile(path.join(FIXTURES, "envoy-realistic.yaml"));
  const hcm = b.listeners[0].hcm;
  const [grpcHost, webHost] = hcm.routeConfig.virtualHosts;
  const cluster = (name: string): ClusterConfig => b.clusters.find((c) => c.name === name)!;

  void test("decodes without errors and is deeply frozen", () => {
    assert.equal(b.listeners.length, 1);
    assert.deepEqual(b.listeners[0].address, { address: "0.0.0.0", port: 10000 });
    assert.ok(isDeeplyFrozen(b));
  });

  void test("node metadata and locality", () => {
    assert.deepEqual(b.node.metadata, { team: "storefront", canary: false });
    assert.deepEqual(b.node.locality, { region: "eu-west-1", zone: "eu-west-1a", subZone: "" });
  });

  void test("connection manager settings", () => {
    assert.equal(hcm.streamIdleTimeoutMs, 300_000);
    assert.equal(hcm.requestTimeoutMs, 60_000);
    assert.equal(hcm.drainTimeoutMs, 10_000);
    assert.equal(hcm.idleTimeoutMs, 900_000);
    assert.equal(hcm.maxHeadersCount, 200);
    assert.equal(hcm.maxRequestHeadersKb, 96);
    assert.deepEqual(hcm.http2, { maxConcurrentStreams: 256, initialStreamWindowSize: 65536, initialConnectionWindowSize: 1 << 20 });
    assert.deepEqual(hcm.tracing, { clientSamplingPercent: 100, randomSamplingPercent: 10, overallSamplingPercent: 100 });
  });

  void test("gRPC route with retry policy and grpc-timeout cap", () => {
    const route = grpcHost.routes[0];
    assert.equal(route.match.grpcOnly, true);
    const action = route.action as RouteAction;
    assert.equal(action.timeoutMs, 0);
    assert.equal(action.maxStreamDuration.grpcTimeoutHeaderMaxMs, 30_000);
    assert.deepEqual([...action.retryPolicy!.retryOn], ["cancelled", "deadline-exceeded", "unavailable"]);
    assert.equal(action.retryPolicy!.numRetries, 2);
    assert.equal(action.retryPolicy!.perTryTimeoutMs, 5_000);
    assert.equal(action.retryPolicy!.backoffBaseMs, 50);
    assert.equal(action.retryPolicy!.backoffMaxMs, 1_000);
  });

  void test("weighted clusters, header matchers and header mutations", () => {
    const canary = webHost.routes[0];
    const action = canary.action as RouteAction;
    assert.deepEqual(action.clusters, [
      { name: "web_v1", weight: 90 },
      { name: "web_v2", weight: 10 },
    ]);
    assert.equal(action.prefixRewrite, "/");
    assert.equal(action.idleTimeoutMs, 60_000);
    assert.deepEqual(canary.match.headers, [{ name: "x-canary", kind: "exact", value: "true", present: true, invert: false }]);
    assert.deepEqual(canary.headers.responseToAdd, [{ name: "x-route", value: "canary", append: true }]);
    assert.deepEqual(webHost.headers.requestToAdd, [{ name: "x-forwarded-service", value: "web", append: false }]);
    assert.deepEqual(hcm.routeConfig.headers.requestToAdd, [{ name: "x-mesh", value: "pilotfish", append: false }]);
    assert.deepEqual(hcm.routeConfig.headers.responseToRemove, ["server"]);
    assert.equal(webHost.retryPolicy!.numRetries, 3);
    assert.equal(webHost.retryPolicy!.backoffBaseMs, 25);
    assert.equal(webHost.retryPolicy!.backoffMaxMs, 250);
  });

  void test("regex, path, direct response and host rewrites", () => {
    const [, regex, healthz, fallback] = webHost.routes;
    assert.deepEqual(regex.match.path, { kind: "regex", regex: "^/static/[a-z0-9_-]+\\.(css|js)$" });
    assert.deepEqual((regex.action as RouteAction).hostRewrite, { kind: "literal", value: "static.internal" });
    assert.deepEqual(healthz.action, { kind: "direct", status: 200, body: "ok" });
    assert.equal(fallback.match.caseSensitive, false);
    assert.deepEqual(fallback.match.headers[1], { name: "x-debug", kind: "present", value: "", present: true, invert: true });
    assert.deepEqual((fallback.action as RouteAction).hostRewrite, { kind: "endpoint" });
  });

  void test("HTTP/2 cluster with least-request, keepalive and circuit breakers", () => {
    const greeter = cluster("greeter");
    assert.equal(greeter.protocol, "http2");
    assert.equal(greeter.lbPolicy, "LEAST_REQUEST");
    assert.deepEqual(greeter.leastRequest, { choiceCount: 3, activeRequestBias: 1.5 });
    assert.equal(greeter.connectTimeoutMs, 250);
    assert.equal(greeter.healthyPanicThreshold, 30);
    assert.equal(greeter.idleTimeoutMs, 120_000);
    assert.equal(greeter.http2.maxConcurrentStreams, 100);
    assert.equal(greeter.http2.keepaliveIntervalMs, 30_000);
    assert.equal(greeter.http2.keepaliveTimeoutMs, 5_000);
    assert.deepEqual(greeter.circuitBreakers, { maxConnections: 100, maxPendingRequests: 200, maxRequests: 500, maxRetries: 5 });
    const eps = greeter.endpoints[0].endpoints;
    assert.deepEqual(eps.map((e) => [e.address.address, e.weight, e.healthStatus, e.hostname]), [
      ["10.0.1.10", 2, "UNKNOWN", undefined],
      ["10.0.1.11", 1, "HEALTHY", "greeter-b.internal"],
    ]);
  });

  void test("HTTP/1.1 clusters", () => {
    assert.equal(cluster("web_v1").protocol, "http1");
    assert.equal(cluster("web_v2").protocol, "http1");
    assert.equal(cluster("web_v2").lbPolicy, "RANDOM");
  });
});

void describe("other accepted forms", () => {
  void test("an empty http_filters list means router only", () => {
    const doc = fixture("example.yaml");
    parts(doc).hcm.http_filters = [];
    assert.deepEqual(ok(doc).listeners[0].hcm.httpFilters, [{ name: "envoy.filters.http.router", kind: "router" }]);
  });

  void test("the router named without typed_config", () => {
    const doc = fixture("example.yaml");
    parts(doc).hcm.http_filters = [{ name: "envoy.filters.http.router" }];
    assert.equal(ok(doc).listeners[0].hcm.httpFilters.length, 1);
  });

  void test("the deprecated Cluster.http2_protocol_options selects HTTP/2", () => {
    const doc = fixture("example.yaml");
    const { cluster } = parts(doc);
    delete cluster.typed_extension_protocol_options;
    cluster.http2_protocol_options = { max_concurrent_streams: 50 };
    const c = ok(doc).clusters[0];
    assert.equal(c.protocol, "http2");
    assert.equal(c.http2.maxConcurrentStreams, 50);
  });

  void test("use_downstream_protocol_config selects the downstream protocol", () => {
    const doc = fixture("example.yaml");
    const opts = parts(doc).cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    delete opts.explicit_http_config;
    opts.use_downstream_protocol_config = { http2_protocol_options: {} };
    assert.equal(ok(doc).clusters[0].protocol, "downstream");
  });

  void test("no protocol options means HTTP/1.1", () => {
    const doc = fixture("example.yaml");
    delete parts(doc).cluster.typed_extension_protocol_options;
    assert.equal(ok(doc).clusters[0].protocol, "http1");
  });

  void test("windows above our caps are clamped", () => {
    const doc = fixture("example.yaml");
    parts(doc).hcm.http2_protocol_options = { initial_stream_window_size: 268435456, initial_connection_window_size: 268435456 };
    assert.deepEqual(ok(doc).listeners[0].hcm.http2, {
      maxConcurrentStreams: 1024,
      initialStreamWindowSize: 16 << 20,
      initialConnectionWindowSize: 24 << 20,
    });
  });

  void test("downstream TLS", () => {
    const doc = fixture("example.yaml");
    parts(doc).listener.filter_chains[0].transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        require_client_certificate: true,
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: "/etc/certs/cert.pem" }, private_key: { filename: "/etc/certs/key.pem" } }],
          validation_context: { trusted_ca: { filename: "/etc/certs/ca.pem" } },
        },
      },
    };
    assert.deepEqual(ok(doc).listeners[0].tls, {
      certificateChainFile: "/etc/certs/cert.pem",
      privateKeyFile: "/etc/certs/key.pem",
      trustedCaFile: "/etc/certs/ca.pem",
      requireClientCertificate: true,
      alpnProtocols: ["h2", "http/1.1"],
    });
  });

  void test("dynamic_resources over ADS", () => {
    const doc = fixture("example.yaml");
    doc.dynamic_resources = {
      ads_config: { api_type: "GRPC", transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: "backend" } }] },
      lds_config: { ads: {}, resource_api_version: "V3" },
      cds_config: { ads: {}, resource_api_version: "V3" },
    };
    assert.deepEqual(ok(doc).dynamicResources, { adsClusterName: "backend", delta: false, lds: true, cds: true, initialFetchTimeoutMs: 15_000 });
  });

  void test("an unset route timeout stays undefined (the router decides)", () => {
    const action = ok(fixture("example.yaml")).listeners[0].hcm.routeConfig.virtualHosts[0].routes[0].action as RouteAction;
    assert.equal(action.timeoutMs, undefined);
  });
});

void describe("loadBootstrapFile errors", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pf-bootstrap-"));

  void test("missing file → CONFIG_UNREADABLE", () => {
    assert.throws(
      () => loadBootstrapFile(path.join(dir, "absent.yaml")),
      (err: unknown) => PilotfishError.is(err, ErrorCode.CONFIG_UNREADABLE),
    );
  });

  void test("YAML syntax error → CONFIG_UNREADABLE", () => {
    const file = path.join(dir, "broken.yaml");
    writeFileSync(file, "static_resources: [\n  listeners: {");
    assert.throws(() => loadBootstrapFile(file), (err: unknown) => PilotfishError.is(err, ErrorCode.CONFIG_UNREADABLE));
  });

  void test("duplicate YAML keys → CONFIG_UNREADABLE", () => {
    const file = path.join(dir, "dup.yaml");
    writeFileSync(file, "node: {id: a}\nnode: {id: b}\n");
    assert.throws(() => loadBootstrapFile(file), (err: unknown) => PilotfishError.is(err, ErrorCode.CONFIG_UNREADABLE));
  });

  void test("invalid content → CONFIG_INVALID with every error in details", () => {
    const file = path.join(dir, "invalid.yaml");
    writeFileSync(file, "admin: {address: {socket_address: {address: nowhere, port_value: 0}}}\nbogus: 1\n");
    assert.throws(
      () => loadBootstrapFile(file),
      (err: unknown) =>
        PilotfishError.is(err, ErrorCode.CONFIG_INVALID) &&
        err.details.some((d) => d.path === "bogus") &&
        err.details.some((d) => d.path === "admin.address.socket_address.address" && d.message.includes('"nowhere"')),
    );
  });
});
