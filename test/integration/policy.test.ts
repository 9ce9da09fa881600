/**
 * RBAC and local rate limit HTTP filters on the real sidecar, configured as an Envoy user writes them
 * (bootstrap http_filters + typed_per_filter_config), exercised by real grpc-js clients and HTTP/1.1:
 * allow/deny by gRPC method, header and source address; default deny; a per-route override that
 * turns RBAC off; shadow rules counted only; PERMISSION_DENIED with flag RBAC in /stats and the access
 * log; a rate-limit burst beyond the bucket gets RESOURCE_EXHAUSTED with flag RL.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { stringify } from "yaml";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject, type ListenerSpec } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_SERVICE, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { clientStream, describeStatus, unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { http1Request, pollUntil } from "../helpers/util.js";

const RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const RBAC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
const LRL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";

type Obj = Record<string, unknown>;
const UNARY = `/${ECHO_SERVICE}/Unary`;
const FULL = { default_value: { numerator: 100, denominator: "HUNDRED" } };

/** HCM of listener `i` in a bootstrap object. */
function hcmOf(doc: Obj, i: number): Obj {
  const sr = doc.static_resources as { listeners: { filter_chains: { filters: { typed_config: Obj }[] }[] }[] };
  return sr.listeners[i].filter_chains[0].filters[0].typed_config;
}

function withFilters(hcm: Obj, filters: Obj[]): void {
  hcm.http_filters = [...filters, { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } }];
}

function routesOf(hcm: Obj): Obj[] {
  return ((hcm.route_config as Obj).virtual_hosts as Obj[])[0].routes as Obj[];
}

async function stats(sc: Sidecar): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${sc.adminPort}/stats`);
  return parseStats(await res.text());
}

void describe("RBAC and local rate limit filters (bootstrap)", { timeout: 90_000 }, () => {
  let echo: EchoServer;
  let sc: Sidecar;
  let dir: string;
  const clients: EchoClient[] = [];
  const client = (listener: string): EchoClient => {
    const c = createEchoClient(sc.port(listener));
    clients.push(c);
    return c;
  };

  before(async () => {
    echo = await startEchoServer();
    dir = await mkdtemp(join(tmpdir(), "pilotfish-policy-"));
    const echoRoutes = (extra: Obj = {}): ListenerSpec["routes"] => [{ prefix: `/${ECHO_SERVICE}/`, cluster: "echo", ...extra }];
    const doc = bootstrapObject({
      listeners: [
        { name: "authz", routes: echoRoutes() },
        { name: "blocklist", routes: echoRoutes() },
        { name: "closed", routes: [{ path: UNARY, cluster: "echo" }, { prefix: "/", cluster: "echo" }] },
        { name: "limited", routes: [{ path: UNARY, cluster: "echo" }, { prefix: "/", cluster: "echo" }] },
      ],
      clusters: [{ name: "echo", endpoints: [echo.port] }],
    });

    // authz: ALLOW the Unary method from loopback, or anything carrying x-role: admin.
    const authz = hcmOf(doc, 0);
    authz.access_log = [{ name: "envoy.access_loggers.file", typed_config: { "@type": FILE_LOG, path: join(dir, "authz.log") } }];
    withFilters(authz, [
      {
        name: "envoy.filters.http.rbac",
        typed_config: {
          "@type": RBAC,
          rules: {
            action: "ALLOW",
            policies: {
              "unary-from-loopback": {
                permissions: [{ url_path: { path: { exact: UNARY } } }],
                principals: [{ direct_remote_ip: { address_prefix: "127.0.0.0", prefix_len: 8 } }],
              },
              admins: {
                permissions: [{ any: true }],
                principals: [{ header: { name: "x-role", string_match: { exact: "admin" } } }],
              },
            },
          },
          // Shadow: would deny everything not from 10/8 — counted, never enforced.
          shadow_rules: {
            action: "ALLOW",
            policies: { "from-ten": { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: "10.0.0.0", prefix_len: 8 } }] } },
          },
        },
      },
    ]);

    // blocklist: DENY client streaming from 127.0.0.1, unless not_rule says the caller is a canary.
    withFilters(hcmOf(doc, 1), [
      {
        name: "rbac",
        typed_config: {
          "@type": RBAC,
          rules: {
            action: "DENY",
            policies: {
              "no-client-streams-from-local": {
                permissions: [
                  { and_rules: { rules: [{ url_path: { path: { prefix: `/${ECHO_SERVICE}/Client` } } }, { not_rule: { header: { name: "x-canary", present_match: true } } }] } },
                ],
                principals: [{ and_ids: { ids: [{ remote_ip: { address_prefix: "127.0.0.1", prefix_len: 32 } }, { not_id: { header: { name: "x-canary", present_match: true } } }] } }],
              },
            },
          },
        },
      },
    ]);

    // closed: empty ALLOW = default deny; the Unary route turns RBAC off (RBACPerRoute without rbac).
    const closed = hcmOf(doc, 2);
    withFilters(closed, [{ name: "authz", typed_config: { "@type": RBAC, rules: { action: "ALLOW" } } }]);
    routesOf(closed)[0].typed_per_filter_config = { authz: { "@type": RBAC_PER_ROUTE } };

    // limited: 3 tokens per hour at the listener; the Unary route has its own bucket of 2, as RESOURCE_EXHAUSTED.
    const limited = hcmOf(doc, 3);
    withFilters(limited, [
      {
        name: "envoy.filters.http.local_ratelimit",
        typed_config: {
          "@type": LRL,
          stat_prefix: "listener_limit",
          token_bucket: { max_tokens: 3, fill_interval: "3600s" },
          filter_enabled: FULL,
          filter_enforced: FULL,
        },
      },
    ]);
    routesOf(limited)[0].typed_per_filter_config = {
      "envoy.filters.http.local_ratelimit": {
        "@type": LRL,
        stat_prefix: "unary_limit",
        token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: "3600s" },
        filter_enabled: FULL,
        filter_enforced: FULL,
        rate_limited_as_resource_exhausted: true,
      },
    };
    sc = await startSidecar(stringify(doc));
  });

  after(async () => {
    for (const c of clients) c.close();
    await sc?.stop();
    await echo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it("allows by gRPC method and source address, or by header; denies the rest with PERMISSION_DENIED and flag RBAC", async () => {
    const c = client("authz");
    const ok = await unary(c, { message: "hi" });
    assert.equal(ok.status.code, grpc.status.OK, describeStatus(ok.status));
    const denied = await clientStream(c, [{ message: "a" }]);
    assert.equal(denied.status.code, grpc.status.PERMISSION_DENIED, describeStatus(denied.status));
    assert.equal(denied.status.details, "RBAC: access denied");
    const admin = await clientStream(c, [{ message: "a" }], { metadata: { "x-role": "admin" } });
    assert.equal(admin.status.code, grpc.status.OK, describeStatus(admin.status));
    // The denied call never reached the upstream.
    assert.equal(echo.calls.filter((r) => r.method === "ClientStream").length, 1);

    // Plain HTTP gets Envoy's 403 and body.
    const h1 = await http1Request({ port: sc.port("authz"), path: `/${ECHO_SERVICE}/Bidi` });
    assert.equal(h1.status, 403);
    assert.equal(h1.body, "RBAC: access denied");

    const s = await stats(sc);
    assert.equal(s.get("http.authz.rbac.allowed"), 2);
    assert.equal(s.get("http.authz.rbac.denied"), 2);
    assert.equal(s.get("http.authz.rbac.shadow_denied"), 4, "shadow rules are evaluated for every request");
    assert.equal(s.get("http.authz.rbac.shadow_allowed") ?? 0, 0);
    assert.equal(s.get("http.authz.response_flag.RBAC"), 2);

    const lines = await pollUntil(
      async () => {
        const text = await readFile(join(dir, "authz.log"), "utf8").catch(() => "");
        const parsed = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Obj);
        return parsed.length >= 4 ? parsed : undefined;
      },
      { timeoutMs: 5000, label: "4 access log lines" },
    );
    const flags = lines.map((l) => l.response_flags);
    assert.deepEqual(flags.filter((f) => f === "RBAC").length, 2, JSON.stringify(flags));
  });

  void it("DENY rules with and/not combinations: blocks local client streams unless canary", async () => {
    const c = client("blocklist");
    assert.equal((await unary(c, { message: "x" })).status.code, grpc.status.OK);
    const blocked = await clientStream(c, [{ message: "x" }]);
    assert.equal(blocked.status.code, grpc.status.PERMISSION_DENIED, describeStatus(blocked.status));
    const canary = await clientStream(c, [{ message: "x" }], { metadata: { "x-canary": "1" } });
    assert.equal(canary.status.code, grpc.status.OK, describeStatus(canary.status));
  });

  void it("empty ALLOW policies deny everything; RBACPerRoute without rbac turns it off on that route", async () => {
    const c = client("closed");
    const open = await unary(c, { message: "x" });
    assert.equal(open.status.code, grpc.status.OK, describeStatus(open.status));
    const shut = await clientStream(c, [{ message: "x" }]);
    assert.equal(shut.status.code, grpc.status.PERMISSION_DENIED, describeStatus(shut.status));
    const h1 = await http1Request({ port: sc.port("closed"), path: "/anything" });
    assert.equal(h1.status, 403);
  });

  void it("rate limit: a burst beyond the bucket is limited with flag RL; the per-route bucket answers RESOURCE_EXHAUSTED", async () => {
    const c = client("limited");
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await unary(c, { message: `u${i}` })).status.code);
    assert.deepEqual(codes, [grpc.status.OK, grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED]);
    const limited = await unary(c, { message: "again" });
    assert.equal(limited.status.details, "local_rate_limited");

    // The listener's bucket (3) is separate: Envoy maps its 429 to UNAVAILABLE for gRPC callers.
    const other: number[] = [];
    for (let i = 0; i < 4; i++) other.push((await clientStream(c, [{ message: "s" }])).status.code);
    assert.deepEqual(other, [grpc.status.OK, grpc.status.OK, grpc.status.OK, grpc.status.UNAVAILABLE]);
    const h1 = await http1Request({ port: sc.port("limited"), path: "/x" });
    assert.equal(h1.status, 429);
    assert.equal(h1.body, "local_rate_limited");

    const s = await stats(sc);
    assert.equal(s.get("unary_limit.http_local_rate_limit.enabled"), 5);
    assert.equal(s.get("unary_limit.http_local_rate_limit.ok"), 2);
    assert.equal(s.get("unary_limit.http_local_rate_limit.rate_limited"), 3);
    assert.equal(s.get("unary_limit.http_local_rate_limit.enforced"), 3);
    assert.equal(s.get("listener_limit.http_local_rate_limit.ok"), 3);
    assert.equal(s.get("listener_limit.http_local_rate_limit.rate_limited"), 2);
    assert.equal(s.get("http.limited.response_flag.RL"), 5);
  });
});
