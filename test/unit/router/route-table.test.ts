import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "../../../src/common/clock.js";
import { PilotfishError } from "../../../src/common/errors.js";
import { RouteTable, type RequestHeaders } from "../../../src/router/route-table.js";
import { catchAll, header, retryPolicy, route, routeAction, routeConfig, vhost } from "./builders.js";

const NO_HEADERS: RequestHeaders = {};

void describe("RouteTable virtual host selection", () => {
  const table = new RouteTable(
    routeConfig([
      vhost("any", ["*"], [catchAll("any")]),
      vhost("prefix-short", ["api.*"], [catchAll("prefix-short")]),
      vhost("prefix-long", ["api.internal.*"], [catchAll("prefix-long")]),
      vhost("suffix-short", ["*.example.com"], [catchAll("suffix-short")]),
      vhost("suffix-long", ["*.api.example.com"], [catchAll("suffix-long")]),
      vhost("suffix-nodot", ["*-svc.local"], [catchAll("suffix-nodot")]),
      vhost("exact", ["api.example.com", "exact.local"], [catchAll("exact")]),
      vhost("with-port", ["ported.local:8443"], [catchAll("with-port")]),
      vhost("v6", ["[::1]"], [catchAll("v6")]),
    ]),
  );

  const cases: [authority: string, expected: string][] = [
    // exact beats every wildcard that also matches
    ["api.example.com", "exact"],
    ["exact.local", "exact"],
    // longest suffix wins over shorter suffix; suffix beats prefix
    ["v1.api.example.com", "suffix-long"],
    ["www.example.com", "suffix-short"],
    ["api.foo.example.com", "suffix-short"],
    ["orders-svc.local", "suffix-nodot"],
    // `*.example.com` does not match the bare domain
    ["example.com", "any"],
    // `*-svc.local` needs at least one character before the suffix
    ["-svc.local", "any"],
    // prefix wildcards: longest wins, beaten by suffix and exact
    ["api.internal.corp", "prefix-long"],
    ["api.corp", "prefix-short"],
    ["api.", "any"],
    // case-insensitive
    ["API.Example.COM", "exact"],
    ["WWW.EXAMPLE.COM", "suffix-short"],
    // port: tried as sent, then without the port, before `*`
    ["exact.local:8080", "exact"],
    ["www.example.com:443", "suffix-short"],
    ["ported.local:8443", "with-port"],
    ["ported.local:9000", "any"],
    ["ported.local", "any"],
    ["[::1]:8080", "v6"],
    ["[::1]", "v6"],
    // a non-numeric "port" is not stripped
    ["exact.local:abc", "any"],
    ["unknown.host", "any"],
    ["", "any"],
  ];
  for (const [authority, expected] of cases) {
    void it(`routes ${JSON.stringify(authority)} to ${expected}`, () => {
      assert.equal(table.match(authority, "/", NO_HEADERS)?.virtualHost.name, expected);
    });
  }

  void it("returns undefined when no virtual host matches and there is no `*`", () => {
    const t = new RouteTable(routeConfig([vhost("only", ["only.local"], [catchAll("only")])]));
    assert.equal(t.match("other.local", "/", NO_HEADERS), undefined);
    assert.equal(t.virtualHostFor("only.local:80")?.name, "only");
  });
});

void describe("RouteTable path matching", () => {
  const table = new RouteTable(
    routeConfig([
      vhost(
        "vh",
        ["*"],
        [
          route("exact", { kind: "path", value: "/exact" }),
          route("exact-ci", { kind: "path", value: "/Exact-CI" }, { caseSensitive: false }),
          route("regex", { kind: "regex", regex: "/users/[0-9]+" }),
          route("regex-ci", { kind: "regex", regex: "(?i)/shout/[a-z]+" }),
          route("prefix-ci", { kind: "prefix", value: "/API/" }, { caseSensitive: false }),
          route("prefix", { kind: "prefix", value: "/static/" }),
          route("grpc-svc", { kind: "prefix", value: "/pkg.Service/" }),
          route("fallback", { kind: "prefix", value: "/" }),
        ],
      ),
    ]),
  );

  const cases: [path: string, expected: string][] = [
    ["/exact", "exact"],
    ["/exact?x=1", "exact"],
    ["/exact#frag", "exact"],
    ["/exact/", "fallback"],
    ["/Exact", "fallback"],
    ["/exact-ci", "exact-ci"],
    ["/EXACT-ci?q", "exact-ci"],
    ["/users/42", "regex"],
    ["/users/42?page=2", "regex"],
    // full match: neither a longer path nor a partial one
    ["/users/42/posts", "fallback"],
    ["/users/abc", "fallback"],
    ["/shout/HELLO", "regex-ci"],
    ["/api/v1", "prefix-ci"],
    ["/Api/v1", "prefix-ci"],
    ["/static/app.js", "prefix"],
    ["/STATIC/app.js", "fallback"],
    // the query string is not part of the path: a prefix seen only in the query does not match
    ["/x?/static/", "fallback"],
    ["/static?/", "fallback"],
    ["/pkg.Service/Method", "grpc-svc"],
  ];
  for (const [path, expected] of cases) {
    void it(`routes ${JSON.stringify(path)} to ${expected}`, () => {
      assert.equal(table.match("host", path, NO_HEADERS)?.name, expected);
    });
  }

  void it("returns the same precompiled object for every match", () => {
    const a = table.match("host", "/static/a", NO_HEADERS);
    const b = table.match("host", "/static/b?x", NO_HEADERS);
    assert.ok(a !== undefined);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
  });

  void it("returns undefined when no route matches", () => {
    const t = new RouteTable(routeConfig([vhost("vh", ["*"], [route("a", { kind: "prefix", value: "/a" })])]));
    assert.equal(t.match("h", "/b", NO_HEADERS), undefined);
  });
});

void describe("RouteTable header matchers", () => {
  const cases: [name: string, matcher: ReturnType<typeof header>, headers: RequestHeaders, expected: boolean][] = [
    ["exact hit", header("x-env", "exact", "prod"), { "x-env": "prod" }, true],
    ["exact miss", header("x-env", "exact", "prod"), { "x-env": "production" }, false],
    ["exact is case-sensitive", header("x-env", "exact", "prod"), { "x-env": "PROD" }, false],
    ["exact on missing header", header("x-env", "exact", "prod"), {}, false],
    ["exact inverted, other value", header("x-env", "exact", "prod", { invert: true }), { "x-env": "dev" }, true],
    ["exact inverted, same value", header("x-env", "exact", "prod", { invert: true }), { "x-env": "prod" }, false],
    // Envoy: a missing header fails every non-present matcher, inverted or not
    ["exact inverted, missing header", header("x-env", "exact", "prod", { invert: true }), {}, false],
    ["prefix hit", header("user-agent", "prefix", "grpc-"), { "user-agent": "grpc-node/1.14" }, true],
    ["prefix miss", header("user-agent", "prefix", "grpc-"), { "user-agent": "curl/8" }, false],
    ["suffix hit", header("x-host", "suffix", ".internal"), { "x-host": "db.internal" }, true],
    ["suffix miss", header("x-host", "suffix", ".internal"), { "x-host": "internal.db" }, false],
    ["contains hit", header("x-tags", "contains", "canary"), { "x-tags": "a,canary,b" }, true],
    ["contains miss", header("x-tags", "contains", "canary"), { "x-tags": "stable" }, false],
    ["regex full match", header("x-id", "regex", "[0-9]{3}"), { "x-id": "123" }, true],
    ["regex is anchored", header("x-id", "regex", "[0-9]{3}"), { "x-id": "1234" }, false],
    ["regex inverted", header("x-id", "regex", "[0-9]{3}", { invert: true }), { "x-id": "abc" }, true],
    ["present, present", header("x-debug", "present", "", { present: true }), { "x-debug": "" }, true],
    ["present, absent", header("x-debug", "present", "", { present: true }), {}, false],
    ["present:false, absent", header("x-debug", "present", "", { present: false }), {}, true],
    ["present:false, present", header("x-debug", "present", "", { present: false }), { "x-debug": "1" }, false],
    ["present inverted, absent", header("x-debug", "present", "", { invert: true }), {}, true],
    ["present inverted, present", header("x-debug", "present", "", { invert: true }), { "x-debug": "1" }, false],
    ["multi-valued header is joined with ','", header("x-v", "exact", "a,b"), { "x-v": ["a", "b"] }, true],
    ["joined value for suffix", header("x-v", "suffix", ",b"), { "x-v": ["a", "b"] }, true],
    ["pseudo-header :method", header(":method", "exact", "POST"), { ":method": "POST" }, true],
    ["pseudo-header :method miss", header(":method", "exact", "POST"), { ":method": "GET" }, false],
  ];
  for (const [name, matcher, headers, expected] of cases) {
    void it(name, () => {
      const t = new RouteTable(
        routeConfig([vhost("vh", ["*"], [route("hit", { kind: "prefix", value: "/" }, { headers: [matcher] }), catchAll("miss")])]),
      );
      assert.equal(t.match("h", "/", headers)?.name, expected ? "hit" : "miss");
    });
  }

  void it("requires every matcher to match", () => {
    const t = new RouteTable(
      routeConfig([
        vhost(
          "vh",
          ["*"],
          [
            route("both", { kind: "prefix", value: "/" }, { headers: [header("a", "exact", "1"), header("b", "exact", "2")] }),
            catchAll("miss"),
          ],
        ),
      ]),
    );
    assert.equal(t.match("h", "/", { a: "1", b: "2" })?.name, "both");
    assert.equal(t.match("h", "/", { a: "1", b: "3" })?.name, "miss");
    assert.equal(t.match("h", "/", { a: "1" })?.name, "miss");
  });
});

void describe("RouteTable gRPC-only routes", () => {
  const t = new RouteTable(
    routeConfig([vhost("vh", ["*"], [route("grpc", { kind: "prefix", value: "/" }, { grpcOnly: true }), catchAll("http")])]),
  );
  const cases: [contentType: string | undefined, expected: string][] = [
    ["application/grpc", "grpc"],
    ["application/grpc+proto", "grpc"],
    ["application/grpc;charset=utf-8", "grpc"],
    ["application/grpc-web", "http"],
    ["application/json", "http"],
    [undefined, "http"],
  ];
  for (const [contentType, expected] of cases) {
    void it(`content-type ${String(contentType)} → ${expected}`, () => {
      const headers: RequestHeaders = contentType === undefined ? {} : { "content-type": contentType };
      assert.equal(t.match("h", "/pkg.S/M", headers)?.name, expected);
    });
  }
});

void describe("RouteTable weighted clusters", () => {
  void it("splits traffic by weight with a seeded Random (100k picks within 1%)", () => {
    const t = new RouteTable(
      routeConfig([
        vhost(
          "vh",
          ["*"],
          [
            route("split", { kind: "prefix", value: "/" }, {
              action: routeAction({
                clusters: [
                  { name: "a", weight: 70 },
                  { name: "off", weight: 0 },
                  { name: "b", weight: 20 },
                  { name: "c", weight: 10 },
                ],
              }),
            }),
          ],
        ),
      ]),
    );
    const matched = t.match("h", "/", NO_HEADERS);
    assert.ok(matched);
    const random = seededRandom(42);
    const counts = new Map<string, number>();
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const c = matched.pickCluster(random);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.equal(counts.get("off"), undefined);
    for (const [name, share] of [["a", 0.7], ["b", 0.2], ["c", 0.1]] as const) {
      const got = (counts.get(name) ?? 0) / n;
      assert.ok(Math.abs(got - share) < 0.01, `${name}: ${got} vs ${share}`);
    }
  });

  void it("returns a single cluster without drawing from the Random", () => {
    const t = new RouteTable(routeConfig([vhost("vh", ["*"], [catchAll("only")])]));
    const random = { next: () => assert.fail("must not draw") };
    assert.equal(t.match("h", "/", NO_HEADERS)?.pickCluster(random), "only");
  });

  void it("returns '' for a direct response route", () => {
    const t = new RouteTable(
      routeConfig([
        vhost("vh", ["*"], [route("direct", { kind: "prefix", value: "/" }, { action: { kind: "direct", status: 404, body: undefined } })]),
      ]),
    );
    const m = t.match("h", "/", NO_HEADERS);
    assert.equal(m?.pickCluster(seededRandom(1)), "");
    assert.equal(m?.retryPolicy, undefined);
  });
});

void describe("RouteTable prefix rewrite", () => {
  const t = new RouteTable(
    routeConfig([
      vhost(
        "vh",
        ["*"],
        [
          route("api", { kind: "prefix", value: "/api/" }, { action: routeAction({ prefixRewrite: "/v2/" }) }),
          route("ci", { kind: "prefix", value: "/CI/" }, { caseSensitive: false, action: routeAction({ prefixRewrite: "/" }) }),
          route("path", { kind: "path", value: "/old" }, { action: routeAction({ prefixRewrite: "/new" }) }),
          route("regex", { kind: "regex", regex: "/r/[0-9]+" }, { action: routeAction({ prefixRewrite: "/fixed" }) }),
          catchAll("plain"),
        ],
      ),
    ]),
  );
  const cases: [path: string, expected: string][] = [
    ["/api/users", "/v2/users"],
    ["/api/users?id=1&x=/api/", "/v2/users?id=1&x=/api/"],
    ["/ci/a", "/a"],
    ["/Ci/a?q", "/a?q"],
    ["/old", "/new"],
    ["/old?keep=1", "/new?keep=1"],
    ["/r/7?z", "/fixed?z"],
    ["/untouched?q=1", "/untouched?q=1"],
  ];
  for (const [path, expected] of cases) {
    void it(`${path} → ${expected}`, () => {
      const m = t.match("h", path, NO_HEADERS);
      assert.ok(m);
      assert.equal(m.rewritePath(path), expected);
    });
  }
});

void describe("RouteTable compiled policies", () => {
  void it("uses the route's retry policy, else the virtual host's", () => {
    const vhPolicy = retryPolicy(["5xx"]);
    const routePolicy = retryPolicy(["reset"]);
    const t = new RouteTable(
      routeConfig([
        vhost(
          "vh",
          ["*"],
          [route("own", { kind: "prefix", value: "/own" }, { action: routeAction({ retryPolicy: routePolicy }) }), catchAll("inherit")],
          { retryPolicy: vhPolicy },
        ),
        vhost("none", ["none.local"], [catchAll("none")]),
      ]),
    );
    assert.equal(t.match("h", "/own", NO_HEADERS)?.retryPolicy, routePolicy);
    assert.equal(t.match("h", "/other", NO_HEADERS)?.retryPolicy, vhPolicy);
    assert.equal(t.match("none.local", "/", NO_HEADERS)?.retryPolicy, undefined);
  });
});

void describe("RouteTable rejects invalid configuration", () => {
  const cases: [name: string, build: () => RouteTable, path: string, message: RegExp][] = [
    [
      "duplicate domain across virtual hosts",
      () => new RouteTable(routeConfig([vhost("a", ["x.local"], [catchAll("a")]), vhost("b", ["X.local"], [catchAll("b")])])),
      "virtual_hosts[1].domains[0]",
      /more than once/,
    ],
    [
      "wildcard in the middle",
      () => new RouteTable(routeConfig([vhost("a", ["api.*.local"], [catchAll("a")])])),
      "virtual_hosts[0].domains[0]",
      /wildcard/,
    ],
    [
      "invalid path regex",
      () => new RouteTable(routeConfig([vhost("a", ["*"], [route("r", { kind: "regex", regex: "/(unclosed" })])])),
      "virtual_hosts[0].routes[0].match.safe_regex.regex",
      /invalid regex/,
    ],
    [
      "invalid header regex",
      () =>
        new RouteTable(
          routeConfig([vhost("a", ["*"], [route("r", { kind: "prefix", value: "/" }, { headers: [header("x", "regex", "[")] })])]),
        ),
      "virtual_hosts[0].routes[0].match.headers[0].safe_regex_match.regex",
      /invalid regex/,
    ],
    [
      "all cluster weights zero",
      () =>
        new RouteTable(
          routeConfig([
            vhost("a", ["*"], [route("r", { kind: "prefix", value: "/" }, { action: routeAction({ clusters: [{ name: "c", weight: 0 }] }) })]),
          ]),
        ),
      "virtual_hosts[0].routes[0].route.weighted_clusters",
      /sum to 0/,
    ],
  ];
  for (const [name, build, path, message] of cases) {
    void it(`rejects ${name} at ${path}`, () => {
      assert.throws(build, (err: unknown) => {
        assert.ok(PilotfishError.is(err, "PF_CONFIG_INVALID"));
        const detail = err.details.find((d) => d.path === path);
        assert.ok(detail, `no error at ${path}: ${JSON.stringify(err.details)}`);
        assert.match(detail.message, message);
        return true;
      });
    });
  }
});
