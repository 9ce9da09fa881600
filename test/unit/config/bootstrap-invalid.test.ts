/** Every bad input is rejected with an error naming the field path and the offending value. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeBootstrap } from "../../../src/config/load-bootstrap.js";
import { CLUSTER_PATH, type Doc, ENDPOINT_ADDR, fixture, HCM_PATH, parts, ROUTE_PATH } from "./bootstrap-helpers.js";

interface Case {
  name: string;
  mutate: (doc: Doc, p: ReturnType<typeof parts>) => void;
  path: string;
  /** Substrings the message must contain (the value, and the gist). */
  message: string[];
}

const HCM_URL = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const VHOSTS = `${HCM_PATH}.route_config.virtual_hosts`;

const cases: Case[] = [
  { name: "unknown top-level field", mutate: (d) => (d.stats_sinks = []), path: "stats_sinks", message: ["unknown field", "stats_sinks"] },
  {
    name: "typo in a cluster field",
    mutate: (_d, p) => (p.cluster.conect_timeout = "1s"),
    path: `${CLUSTER_PATH}.conect_timeout`,
    message: ["unknown field", "conect_timeout"],
  },
  {
    name: "duration given as a number",
    mutate: (_d, p) => (p.cluster.connect_timeout = 5),
    path: `${CLUSTER_PATH}.connect_timeout`,
    message: ["invalid duration", "5"],
  },
  {
    name: "duration in human form",
    mutate: (_d, p) => (p.hcm.stream_idle_timeout = "5m"),
    path: `${HCM_PATH}.stream_idle_timeout`,
    message: ["invalid duration", '"5m"'],
  },
  {
    name: "negative duration",
    mutate: (_d, p) => (p.hcm.drain_timeout = "-1s"),
    path: `${HCM_PATH}.drain_timeout`,
    message: ["negative duration", '"-1s"'],
  },
  {
    name: "misspelt enum value",
    mutate: (_d, p) => (p.cluster.lb_policy = "ROUND_ROBBIN"),
    path: `${CLUSTER_PATH}.lb_policy`,
    message: ['"ROUND_ROBBIN"', "expected one of", "LEAST_REQUEST"],
  },
  {
    name: "Envoy lb_policy we do not implement",
    mutate: (_d, p) => (p.cluster.lb_policy = "MAGLEV"),
    path: `${CLUSTER_PATH}.lb_policy`,
    message: ['unsupported value "MAGLEV"; supported: ROUND_ROBIN, LEAST_REQUEST, RANDOM'],
  },
  {
    name: "cluster discovery type we do not implement",
    mutate: (_d, p) => (p.cluster.type = "ORIGINAL_DST"),
    path: `${CLUSTER_PATH}.type`,
    message: ['unsupported value "ORIGINAL_DST"', "STATIC, STRICT_DNS, LOGICAL_DNS, EDS"],
  },
  {
    name: "unknown @type",
    mutate: (_d, p) => (p.listener.filter_chains[0].filters[0].typed_config["@type"] = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"),
    path: `${HCM_PATH}.@type`,
    message: ["unknown type", "TcpProxy"],
  },
  {
    name: "network filter that is not the connection manager",
    mutate: (_d, p) => (p.listener.filter_chains[0].filters[0].typed_config = { "@type": ROUTER_URL }),
    path: `${HCM_PATH}.@type`,
    message: ["unsupported value", ROUTER_URL, HCM_URL],
  },
  {
    name: "http filter chain not ending in the router",
    mutate: (_d, p) =>
      p.hcm.http_filters.push({
        name: "envoy.filters.http.late",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions" },
      }),
    path: `${HCM_PATH}.http_filters[1]`,
    message: ["last HTTP filter must be the router"],
  },
  {
    name: "route to an undefined cluster",
    mutate: (_d, p) => (p.route.route.cluster = "nope"),
    path: `${ROUTE_PATH}.route.cluster`,
    message: ['"nope"', "not defined"],
  },
  {
    name: "weighted cluster naming an undefined cluster",
    mutate: (_d, p) => (p.route.route = { weighted_clusters: { clusters: [{ name: "ghost", weight: 1 }] } }),
    path: `${ROUTE_PATH}.route.weighted_clusters.clusters[0].name`,
    message: ['"ghost"', "not defined"],
  },
  {
    name: "duplicate cluster names",
    mutate: (d, p) => d.static_resources.clusters.push(structuredClone(p.cluster)),
    path: "static_resources.clusters[1].name",
    message: ['duplicate cluster name "backend"'],
  },
  {
    name: "duplicate listener names",
    mutate: (d, p) => d.static_resources.listeners.push({ ...structuredClone(p.listener), address: { socket_address: { address: "127.0.0.1", port_value: 10002 } } }),
    path: "static_resources.listeners[1].name",
    message: ['duplicate listener name "ingress"'],
  },
  {
    name: "port above 65535",
    mutate: (_d, p) => (p.cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 70000),
    path: `${ENDPOINT_ADDR}.port_value`,
    message: ["port 70000", "1..65535"],
  },
  {
    name: "negative port",
    mutate: (_d, p) => (p.cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = -1),
    path: `${ENDPOINT_ADDR}.port_value`,
    message: ["-1", "out of range"],
  },
  {
    name: "host name where an IP is required",
    mutate: (_d, p) => (p.cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address = "localhost"),
    path: `${ENDPOINT_ADDR}.address`,
    message: ['"localhost" is not an IP address'],
  },
  {
    name: "regex that does not compile",
    mutate: (_d, p) => (p.route.match = { safe_regex: { google_re2: {}, regex: "/api/(v1" } }),
    path: `${ROUTE_PATH}.match.safe_regex.regex`,
    message: ["invalid regex", "/api/(v1"],
  },
  {
    name: "regex with lookahead (not RE2)",
    mutate: (_d, p) => (p.route.match = { safe_regex: { regex: "^/(?!admin)" } }),
    path: `${ROUTE_PATH}.match.safe_regex.regex`,
    message: ["lookaround", "(?!admin)"],
  },
  {
    name: "two filter chains",
    mutate: (_d, p) => p.listener.filter_chains.push(structuredClone(p.listener.filter_chains[0])),
    path: "static_resources.listeners[0].filter_chains",
    message: ["exactly one filter chain", "got 2"],
  },
  {
    name: "unknown retry_on condition",
    mutate: (_d, p) => (p.route.route.retry_policy = { retry_on: "5xx,bogus" }),
    path: `${ROUTE_PATH}.route.retry_policy.retry_on`,
    message: ['unsupported value "bogus"', "gateway-error"],
  },
  {
    name: "two members of a oneof",
    mutate: (_d, p) => (p.route.match = { prefix: "/", path: "/x" }),
    path: `${ROUTE_PATH}.match.path`,
    message: ["only one of", "prefix"],
  },
  {
    name: "string where an integer is expected",
    mutate: (_d, p) => (p.route.route.retry_policy = { retry_on: "5xx", num_retries: "three" }),
    path: `${ROUTE_PATH}.route.retry_policy.num_retries`,
    message: ["expected an integer", '"three"'],
  },
  {
    name: "string_match ignore_case",
    mutate: (_d, p) => (p.route.match.headers = [{ name: "x-a", string_match: { exact: "b", ignore_case: true } }]),
    path: `${ROUTE_PATH}.match.headers[0].string_match.ignore_case`,
    message: ["not supported"],
  },
  {
    name: "weighted clusters summing to zero",
    mutate: (_d, p) => (p.route.route = { weighted_clusters: { clusters: [{ name: "backend", weight: 0 }] } }),
    path: `${ROUTE_PATH}.route.weighted_clusters.clusters`,
    message: ["sum to 0"],
  },
  {
    name: "direct response status out of range",
    mutate: (_d, p) => (p.vhost.routes[0] = { match: { prefix: "/" }, direct_response: { status: 99 } }),
    path: `${ROUTE_PATH}.direct_response.status`,
    message: ["status 99"],
  },
  {
    name: "percent above 100",
    mutate: (_d, p) => (p.cluster.common_lb_config = { healthy_panic_threshold: { value: 150 } }),
    path: `${CLUSTER_PATH}.common_lb_config.healthy_panic_threshold.value`,
    message: ["150", "0..100"],
  },
  {
    name: "codec_type HTTP3",
    mutate: (_d, p) => (p.hcm.codec_type = "HTTP3"),
    path: `${HCM_PATH}.codec_type`,
    message: ['unsupported value "HTTP3"', "AUTO"],
  },
  {
    name: "rds without dynamic_resources",
    mutate: (_d, p) => {
      delete p.hcm.route_config;
      p.hcm.rds = { route_config_name: "r", config_source: { ads: {} } };
    },
    path: `${HCM_PATH}.rds`,
    message: ["rds needs dynamic_resources"],
  },
  {
    name: "upstream TLS SAN matchers without trusted_ca",
    mutate: (_d, p) =>
      (p.cluster.transport_socket = {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          common_tls_context: { validation_context: { match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: "spiffe://x" } }] } },
        },
      }),
    path: `${CLUSTER_PATH}.transport_socket.typed_config.common_tls_context.validation_context.trusted_ca`,
    message: ["required when subject alt name matchers are set"],
  },
  {
    name: "upstream TLS SAN matcher with an unsupported type",
    mutate: (_d, p) =>
      (p.cluster.transport_socket = {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          common_tls_context: {
            validation_context: { trusted_ca: { filename: "/ca.pem" }, match_typed_subject_alt_names: [{ san_type: "OTHER_NAME", matcher: { exact: "x" } }] },
          },
        },
      }),
    path: `${CLUSTER_PATH}.transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type`,
    message: ["OTHER_NAME"],
  },
  {
    name: "upstream TLS SAN matcher with an empty prefix",
    mutate: (_d, p) =>
      (p.cluster.transport_socket = {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          common_tls_context: {
            validation_context: { trusted_ca: { filename: "/ca.pem" }, match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { prefix: "" } }] },
          },
        },
      }),
    path: `${CLUSTER_PATH}.transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher.prefix`,
    message: ["must not be empty"],
  },
  {
    name: "upstream TLS with an unknown ALPN",
    mutate: (_d, p) =>
      (p.cluster.transport_socket = {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          common_tls_context: { alpn_protocols: ["spdy/3"] },
        },
      }),
    path: `${CLUSTER_PATH}.transport_socket.typed_config.common_tls_context.alpn_protocols[0]`,
    message: ["spdy/3"],
  },
  {
    name: "unknown typed_extension_protocol_options key",
    mutate: (_d, p) =>
      (p.cluster.typed_extension_protocol_options["envoy.filters.network.http_connection_manager"] = { "@type": HCM_URL, stat_prefix: "x" }),
    path: `${CLUSTER_PATH}.typed_extension_protocol_options["envoy.filters.network.http_connection_manager"]`,
    message: ['unsupported value "envoy.filters.network.http_connection_manager"'],
  },
  {
    name: "max_request_headers_kb above Envoy's limit",
    mutate: (_d, p) => (p.hcm.max_request_headers_kb = 9000),
    path: `${HCM_PATH}.max_request_headers_kb`,
    message: ["9000", "1..8192"],
  },
  {
    name: "object where a list is expected",
    mutate: (d) => (d.static_resources.clusters = { backend: {} }),
    path: "static_resources.clusters",
    message: ["expected a list", "backend"],
  },
  {
    name: "ADS naming an undefined cluster",
    mutate: (d) =>
      (d.dynamic_resources = {
        ads_config: { api_type: "GRPC", transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: "xds" } }] },
        cds_config: { ads: {} },
      }),
    path: "dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name",
    message: ['cluster "xds" is not defined'],
  },
  {
    name: "domain in two virtual hosts",
    mutate: (_d, p) => p.hcm.route_config.virtual_hosts.push({ ...structuredClone(p.vhost), name: "other" }),
    path: `${VHOSTS}[1].domains[0]`,
    message: ['domain "*" is already used by virtual host "all"'],
  },
  {
    name: "prefix_rewrite with a regex match",
    mutate: (_d, p) => {
      p.route.match = { safe_regex: { regex: "^/a" } };
      p.route.route.prefix_rewrite = "/b";
    },
    path: `${ROUTE_PATH}.route.prefix_rewrite`,
    message: ["cannot be used with a safe_regex match"],
  },
  {
    name: "uppercase-insensitive header add of a pseudo-header",
    mutate: (_d, p) => (p.route.request_headers_to_add = [{ header: { key: ":Path", value: "/x" } }]),
    path: `${ROUTE_PATH}.request_headers_to_add[0].header.key`,
    message: ['":path" cannot be modified'],
  },
  {
    name: "require_client_certificate without a CA",
    mutate: (_d, p) =>
      (p.listener.filter_chains[0].transport_socket = {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
          require_client_certificate: true,
          common_tls_context: { tls_certificates: [{ certificate_chain: { filename: "c.pem" }, private_key: { filename: "k.pem" } }] },
        },
      }),
    path: "static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.require_client_certificate",
    message: ["trusted_ca"],
  },
];

void describe("decodeBootstrap rejects bad input with the field path and value", () => {
  for (const c of cases) {
    void test(c.name, () => {
      const doc = fixture("example.yaml");
      c.mutate(doc, parts(doc));
      const result = decodeBootstrap(doc);
      assert.equal(result.ok, false, "expected the bootstrap to be rejected");
      if (result.ok) return;
      const hit = result.errors.find((e) => e.path === c.path);
      assert.ok(hit, `no error at ${c.path}; got:\n${result.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}`);
      for (const s of c.message) assert.ok(hit.message.includes(s), `message ${JSON.stringify(hit.message)} lacks ${JSON.stringify(s)}`);
    });
  }

  void test("the table covers at least 20 distinct inputs", () => {
    assert.ok(cases.length >= 20);
  });
});

void describe("decodeBootstrap collects every error before failing", () => {
  void test("five independent problems come out together", () => {
    const doc = fixture("example.yaml");
    const p = parts(doc);
    p.cluster.lb_policy = "MAGLEV";
    p.cluster.connect_timeout = "soon";
    p.route.route.cluster = "missing";
    p.hcm.codec_type = "HTTP3";
    doc.admin.address.socket_address.port_value = 70000;
    doc.typo = true;
    const result = decodeBootstrap(doc);
    assert.equal(result.ok, false);
    if (result.ok) return;
    // Structural errors (from the schema walk) and semantic ones (from the decoders) come out together.
    assert.deepEqual(
      result.errors.map((e) => e.path).sort(),
      [
        "typo",
        `${CLUSTER_PATH}.connect_timeout`,
        `${CLUSTER_PATH}.lb_policy`,
        `${HCM_PATH}.codec_type`,
        `${ROUTE_PATH}.route.cluster`,
        "admin.address.socket_address.port_value",
      ].sort(),
    );
  });

  void test("a structurally invalid field is reported once, not again as missing", () => {
    const doc = fixture("example.yaml");
    parts(doc).route.route.cluster = 7;
    const result = decodeBootstrap(doc);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
    assert.equal(result.errors[0].path, `${ROUTE_PATH}.route.cluster`);
    assert.match(result.errors[0].message, /expected a string, got 7/);
  });

  void test("semantic errors across resources come out together", () => {
    const doc = fixture("example.yaml");
    const p = parts(doc);
    p.cluster.lb_policy = "MAGLEV";
    p.route.route.cluster = "missing";
    p.hcm.codec_type = "HTTP3";
    doc.admin.address.socket_address.port_value = 70000;
    const result = decodeBootstrap(doc);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.errors.map((e) => e.path).sort(),
      [
        `${CLUSTER_PATH}.lb_policy`,
        `${HCM_PATH}.codec_type`,
        `${ROUTE_PATH}.route.cluster`,
        "admin.address.socket_address.port_value",
      ].sort(),
    );
  });

  void test("a non-object document is rejected, not thrown", () => {
    for (const doc of [null, 42, "text", []]) {
      const result = decodeBootstrap(doc);
      assert.equal(result.ok, false);
    }
  });
});
