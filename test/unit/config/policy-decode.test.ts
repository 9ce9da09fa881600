/**
 * RBAC and local rate limit decoding: bad filter configs are rejected with the field path and value,
 * from a bootstrap (proto3 JSON) and from xDS bytes (a permission kind we lack is named, not dropped).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { decodeRbacFilter } from "../../../src/config/decode/rbac.js";
import { decodeBootstrap } from "../../../src/config/load-bootstrap.js";
import type { HttpFilterConfig } from "../../../src/config/model.js";
import { RBAC } from "../../../src/gen/envoy/extensions/filters/http/rbac/v3/rbac.js";
import { type Doc, fixture, HCM_PATH, isDeeplyFrozen, parts } from "./bootstrap-helpers.js";

const RBAC_URL = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const RBAC_PER_ROUTE_URL = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
const LRL_URL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const ROUTER_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const F0 = `${HCM_PATH}.http_filters[0].typed_config`;
const ROUTE0 = `${HCM_PATH}.route_config.virtual_hosts[0].routes[0]`;

function withFilter(typedConfig: Doc): Doc {
  const doc = fixture("example.yaml");
  parts(doc).hcm.http_filters = [
    { name: "policy", typed_config: typedConfig },
    { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER_URL } },
  ];
  return doc;
}

function rbac(rules: Doc): Doc {
  return withFilter({ "@type": RBAC_URL, rules });
}

const policy = (permissions: Doc[], principals: Doc[]): Doc => ({ policies: { p: { permissions, principals } } });
const ANY = [{ any: true }];

interface Case {
  name: string;
  doc: () => Doc;
  path: string;
  message: string[];
}

const cases: Case[] = [
  { name: "LOG action", doc: () => rbac({ action: "LOG" }), path: `${F0}.rules.action`, message: ['unsupported value "LOG"', "ALLOW, DENY"] },
  {
    name: "policy without principals",
    doc: () => rbac(policy(ANY, [])),
    path: `${F0}.rules.policies["p"].principals`,
    message: ["at least one principal"],
  },
  {
    name: "CIDR that is not an IP",
    doc: () => rbac(policy(ANY, [{ direct_remote_ip: { address_prefix: "10.0.0.300", prefix_len: 8 } }])),
    path: `${F0}.rules.policies["p"].principals[0].direct_remote_ip.address_prefix`,
    message: ['"10.0.0.300" is not an IP address'],
  },
  {
    name: "IPv4 prefix longer than 32",
    doc: () => rbac(policy(ANY, [{ remote_ip: { address_prefix: "10.0.0.0", prefix_len: 33 } }])),
    path: `${F0}.rules.policies["p"].principals[0].remote_ip.prefix_len`,
    message: ["33", "IPv4"],
  },
  {
    name: "a permission kind pilotfish lacks (bootstrap: unknown field)",
    doc: () => rbac(policy([{ metadata: {} }], ANY)),
    path: `${F0}.rules.policies["p"].permissions[0].metadata`,
    message: ["unknown field", "metadata"],
  },
  {
    name: "empty or_rules",
    doc: () => rbac(policy([{ or_rules: { rules: [] } }], ANY)),
    path: `${F0}.rules.policies["p"].permissions[0].or_rules.rules`,
    message: ["at least one rule"],
  },
  {
    name: "non-portable regex in url_path",
    doc: () => rbac(policy([{ url_path: { path: { safe_regex: { regex: "/(?=x)" } } } }], ANY)),
    path: `${F0}.rules.policies["p"].permissions[0].url_path.path.safe_regex.regex`,
    message: ["lookaround"],
  },
  {
    name: "rate limit without stat_prefix",
    doc: () => withFilter({ "@type": LRL_URL, token_bucket: { max_tokens: 1, fill_interval: "1s" } }),
    path: `${F0}.stat_prefix`,
    message: ["required"],
  },
  {
    name: "fill interval below Envoy's 50 ms",
    doc: () => withFilter({ "@type": LRL_URL, stat_prefix: "x", token_bucket: { max_tokens: 1, fill_interval: "0.01s" } }),
    path: `${F0}.token_bucket.fill_interval`,
    message: ["10 ms", "50 ms"],
  },
  {
    name: "zero max_tokens",
    doc: () => withFilter({ "@type": LRL_URL, stat_prefix: "x", token_bucket: { max_tokens: 0, fill_interval: "1s" } }),
    path: `${F0}.token_bucket.max_tokens`,
    message: ["greater than 0"],
  },
  {
    name: "runtime key",
    doc: () =>
      withFilter({
        "@type": LRL_URL,
        stat_prefix: "x",
        token_bucket: { max_tokens: 1, fill_interval: "1s" },
        filter_enabled: { runtime_key: "rl.enabled", default_value: { numerator: 100 } },
      }),
    path: `${F0}.filter_enabled.runtime_key`,
    message: ["not supported"],
  },
  {
    name: "per-route config of a filter we lack",
    doc: () => {
      const doc = fixture("example.yaml");
      parts(doc).route.typed_per_filter_config = { "envoy.filters.http.router": { "@type": ROUTER_URL } };
      return doc;
    },
    path: `${ROUTE0}.typed_per_filter_config["envoy.filters.http.router"].@type`,
    message: [ROUTER_URL, RBAC_PER_ROUTE_URL],
  },
];

void describe("RBAC / local rate limit decoding rejects", () => {
  for (const c of cases) {
    void test(c.name, () => {
      const result = decodeBootstrap(c.doc());
      assert.equal(result.ok, false, "expected errors");
      if (result.ok) return;
      const hit = result.errors.find((e) => e.path === c.path);
      assert.ok(hit, `no error at ${c.path}; got ${JSON.stringify(result.errors)}`);
      for (const m of c.message) assert.ok(hit.message.includes(m), `"${hit.message}" lacks "${m}"`);
    });
  }
});

void describe("RBAC / local rate limit decoding accepts", () => {
  void test("filters in order before the router, policies sorted by name, per-route overrides, all frozen", () => {
    const doc = withFilter({
      "@type": RBAC_URL,
      rules: {
        action: "DENY",
        policies: {
          zeta: { permissions: ANY, principals: [{ authenticated: { principal_name: { exact: "spiffe://a/b" } } }] },
          alpha: { permissions: [{ destination_port: 8080 }], principals: ANY },
        },
      },
    });
    parts(doc).hcm.http_filters.splice(1, 0, {
      name: "rl",
      typed_config: { "@type": LRL_URL, stat_prefix: "rl", token_bucket: { max_tokens: 5, fill_interval: "1s" } },
    });
    parts(doc).route.typed_per_filter_config = { policy: { "@type": RBAC_PER_ROUTE_URL } };
    const result = decodeBootstrap(doc);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    const hcm = result.value.listeners[0].hcm;
    assert.deepEqual(hcm.httpFilters.map((f: HttpFilterConfig) => f.kind), ["rbac", "local_ratelimit", "router"]);
    const f0 = hcm.httpFilters[0];
    assert.ok(f0.kind === "rbac");
    assert.equal(f0.rbac.rules?.action, "DENY");
    assert.deepEqual(f0.rbac.rules?.policies.map((p) => p.name), ["alpha", "zeta"]);
    const f1 = hcm.httpFilters[1];
    assert.ok(f1.kind === "local_ratelimit");
    // Envoy's defaults: unset filter_enabled / filter_enforced mean 0%.
    assert.deepEqual(f1.localRateLimit.filterEnabled, { numerator: 0, denominator: 100 });
    assert.equal(f1.localRateLimit.status, 429);
    assert.deepEqual(f1.localRateLimit.tokenBucket, { maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 1000 });
    assert.deepEqual(hcm.routeConfig.virtualHosts[0].routes[0].typedPerFilterConfig, { policy: { kind: "rbac", rbac: undefined } });
    assert.ok(isDeeplyFrozen(result.value));
  });
});

void describe("RBAC over xDS", () => {
  void test("a permission kind outside our subset arrives as an unknown field and is rejected by path", () => {
    // Encode with destination_port (field 6, varint 99: bytes 0x30 0x63), then swap those two bytes for
    // Envoy's `metadata` (field 7, empty message: 0x3a 0x00): same length, so every outer length holds.
    const bytes = RBAC.encode(
      RBAC.fromPartial({
        rules: { action: 0, policies: { p: { permissions: [{ rule: { $case: "destinationPort", value: 99 } }], principals: [{ identifier: { $case: "any", value: true } }] } } },
      }),
    ).finish();
    const at = Buffer.from(bytes).indexOf(Buffer.from([0x30, 0x63]));
    assert.ok(at > 0);
    bytes[at] = 0x3a;
    bytes[at + 1] = 0x00;
    const errors = new Errors();
    decodeRbacFilter(RBAC.decode(bytes), "rbac", errors);
    assert.equal(errors.count, 1);
    assert.equal(errors.list[0].path, 'rbac.rules.policies["p"].permissions[0]');
    assert.match(errors.list[0].message, /a rule is required; supported by pilotfish: any, header, url_path/);
  });
});
