/**
 * mesh.yaml `policies` and `rateLimit`: validation errors name the key and value; translation gives
 * the deny and allow RBAC filters and the rate limit filters in order, which our sidecar decodes back
 * to the meaning written in mesh.yaml.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Errors } from "../../../../src/config/decode/field-errors.js";
import { decodeListener } from "../../../../src/config/decode/listener.js";
import { decodeRouteConfiguration } from "../../../../src/config/decode/route.js";
import { Listener } from "../../../../src/gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../../src/gen/envoy/config/route/v3/route.js";
import { HttpConnectionManager } from "../../../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { loadMeshFile } from "../../../../src/control-plane/mesh/mesh-source.js";
import { validateMesh } from "../../../../src/control-plane/mesh/mesh-validate.js";
import { tokenBucketFor } from "../../../../src/control-plane/mesh/translate-policy.js";
import { translateMesh } from "../../../../src/control-plane/mesh/translator.js";
import { baseMesh, type Doc, FIXTURES, parts } from "./helpers.js";

function errorsOf(mutate: (d: Doc) => void): { path: string; message: string }[] {
  const doc = baseMesh();
  mutate(doc);
  const v = validateMesh(doc);
  return v.ok ? [] : [...v.errors];
}

void describe("mesh policies: validation", () => {
  const cases: [string, (d: Doc) => void, string, string][] = [
    ["bad CIDR", (d) => (d.policies = [{ name: "p", listeners: ["echo"], rules: [{ sources: ["10.0.0.0/33"] }] }]), "policies[0].rules[0].sources[0]", '"10.0.0.0/33" is not a CIDR'],
    ["unknown listener", (d) => (d.policies = [{ name: "p", listeners: ["ecoh"] }]), "policies[0].listeners[0]", 'no listener named "ecoh" (did you mean "echo"?)'],
    ["unknown route", (d) => (d.policies = [{ name: "p", routes: ["nope"] }]), "policies[0].routes[0]", 'no route named "nope"'],
    ["no target", (d) => (d.policies = [{ name: "p", rules: [] }]), "policies[0]", "needs listeners or routes"],
    ["bad gRPC method", (d) => (d.policies = [{ name: "p", listeners: ["echo"], rules: [{ grpcMethods: ["/shop.Orders/Get"] }] }]), "policies[0].rules[0].grpcMethods[0]", "package.Service/Method"],
    ["bad action", (d) => (d.policies = [{ name: "p", listeners: ["echo"], action: "reject" }]), "policies[0].action", "reject"],
    ["lower-case method", (d) => (d.policies = [{ name: "p", listeners: ["echo"], rules: [{ methods: ["get"] }] }]), "policies[0].rules[0].methods[0]", "capitals"],
    ["zero rate", (d) => (parts(d).upstream.rateLimit = { requestsPerSecond: 0 }), "upstreams[0].rateLimit.requestsPerSecond", "0"],
    ["typo in rateLimit", (d) => (parts(d).route.rateLimit = { requestPerSecond: 5 }), "routes[0].rateLimit.requestPerSecond", 'did you mean "requestsPerSecond"'],
    ["duplicate policy names", (d) => (d.policies = [{ name: "p", listeners: ["echo"] }, { name: "p", listeners: ["echo"] }]), "policies[1].name", "must be unique"],
  ];
  for (const [name, mutate, path, message] of cases) {
    void test(name, () => {
      const errors = errorsOf(mutate);
      const hit = errors.find((e) => e.path === path);
      assert.ok(hit, `no error at ${path}: ${JSON.stringify(errors)}`);
      assert.ok(hit.message.includes(message), `"${hit.message}" lacks "${message}"`);
    });
  }
});

void describe("mesh policies: translation", () => {
  const mesh = loadMeshFile(`${FIXTURES}/policies.yaml`);
  const sidecar = translateMesh(mesh, { id: "n", cluster: "shop", proxyless: false });

  void test("the sidecar decodes the filters, in order, with the rules written in mesh.yaml", () => {
    const errors = new Errors();
    const l = decodeListener(Listener.decode(Listener.encode(sidecar.listeners[0]).finish()), "shop-inbound", errors);
    assert.deepEqual(errors.list, []);
    const filters = l.hcm.httpFilters;
    assert.deepEqual(
      filters.map((f) => f.name),
      ["pilotfish.authz.deny", "pilotfish.authz.allow", "pilotfish.ratelimit.route", "pilotfish.ratelimit.upstream", "envoy.filters.http.router"],
    );
    const [deny, allow, routeLimit, upstreamLimit] = filters;
    assert.ok(deny.kind === "rbac" && allow.kind === "rbac" && routeLimit.kind === "local_ratelimit" && upstreamLimit.kind === "local_ratelimit");
    assert.equal(deny.rbac.rules?.action, "DENY");
    assert.deepEqual(deny.rbac.rules?.policies.map((p) => p.name), ["block-scrapers.rules[0]", "block-scrapers.rules[1]"]);
    assert.deepEqual(deny.rbac.rules?.policies[1].principals, [
      {
        kind: "or",
        ids: [
          { kind: "remote_ip", cidr: { addressPrefix: "192.0.2.0", prefixLen: 24, family: "ipv4" } },
          { kind: "remote_ip", cidr: { addressPrefix: "2001:db8::", prefixLen: 32, family: "ipv6" } },
        ],
      },
    ]);
    const callers = allow.rbac.rules!.policies[0];
    assert.deepEqual(callers.permissions, [
      {
        kind: "or",
        rules: [
          { kind: "url_path", path: { kind: "prefix", value: "/shop.Orders/", ignoreCase: false } },
          { kind: "url_path", path: { kind: "exact", value: "/shop.Payments/Charge", ignoreCase: false } },
        ],
      },
    ]);
    assert.equal(callers.principals[0].kind, "or");
    assert.deepEqual(routeLimit.localRateLimit.tokenBucket, { maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 200 });
    assert.equal(routeLimit.localRateLimit.rateLimitedAsResourceExhausted, true);
    assert.deepEqual(upstreamLimit.localRateLimit.filterEnabled, { numerator: 0, denominator: 100 }, "off unless a route turns it on");
  });

  void test("routes to a limited upstream carry its bucket; others carry nothing", () => {
    const errors = new Errors();
    const rc = decodeRouteConfiguration(RouteConfiguration.decode(RouteConfiguration.encode(sidecar.routes[0]).finish()), "shop", errors);
    assert.deepEqual(errors.list, []);
    const [payments, orders] = rc.virtualHosts[0].routes;
    assert.equal(payments.typedPerFilterConfig, undefined);
    const override = orders.typedPerFilterConfig?.["pilotfish.ratelimit.upstream"];
    assert.ok(override?.kind === "local_ratelimit");
    assert.equal(override.localRateLimit.statPrefix, "ratelimit.upstream.orders");
    assert.deepEqual(override.localRateLimit.tokenBucket, { maxTokens: 400, tokensPerFill: 10, fillIntervalMs: 50 });
  });

  void test("proxyless clients get no policy filters (the rate limit override is optional for them)", () => {
    const proxyless = translateMesh(mesh, { id: "p", cluster: "shop", proxyless: true });
    const any = proxyless.listeners[0].apiListener?.apiListener;
    assert.ok(any);
    const hcm = HttpConnectionManager.decode(any.value);
    assert.deepEqual(hcm.httpFilters.map((f) => f.name), ["envoy.filters.http.router"]);
  });

  void test("token buckets respect Envoy's 50 ms minimum fill interval", () => {
    assert.deepEqual(tokenBucketFor({ requestsPerSecond: 1, burst: 1 }), { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 });
    assert.deepEqual(tokenBucketFor({ requestsPerSecond: 20, burst: 20 }), { maxTokens: 20, tokensPerFill: 1, fillIntervalMs: 50 });
    assert.deepEqual(tokenBucketFor({ requestsPerSecond: 30, burst: 30 }), { maxTokens: 30, tokensPerFill: 2, fillIntervalMs: 2000 / 30 });
  });
});
