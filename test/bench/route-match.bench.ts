/**
 * Micro-benchmark of RouteTable.match on a 50-route table (not a test; run by hand):
 *
 *   npx node --import tsx test/bench/route-match.bench.ts
 *
 * Prints nanoseconds per match for a few request shapes: an early hit, a late hit, a regex route, a
 * header-matched route, a miss and a port-stripped authority. The numbers only compare versions of
 * this code on one machine; they say nothing about end-to-end latency.
 */
import type { RouteConfig, RouteEntryConfig } from "../../src/config/model.js";
import { RouteTable, type RequestHeaders } from "../../src/router/route-table.js";

const NO_MUTATIONS = { requestToAdd: [], requestToRemove: [], responseToAdd: [], responseToRemove: [] };

function entry(i: number, match: RouteEntryConfig["match"]): RouteEntryConfig {
  return {
    name: `r${i}`,
    match,
    action: {
      kind: "route",
      clusters: [{ name: `c${i}`, weight: 1 }],
      prefixRewrite: undefined,
      hostRewrite: { kind: "pass" },
      timeoutMs: undefined,
      idleTimeoutMs: undefined,
      retryPolicy: undefined,
      maxStreamDuration: { maxStreamDurationMs: undefined, grpcTimeoutHeaderMaxMs: undefined, grpcTimeoutHeaderOffsetMs: 0 },
    },
    headers: NO_MUTATIONS,
  };
}

function buildConfig(): RouteConfig {
  const routes: RouteEntryConfig[] = [];
  for (let i = 0; i < 50; i++) {
    const base = { caseSensitive: true, headers: [], grpcOnly: false };
    if (i === 20) {
      routes.push(entry(i, { ...base, path: { kind: "regex", regex: "/users/[0-9]+/orders" } }));
    } else if (i === 30) {
      routes.push(
        entry(i, {
          ...base,
          path: { kind: "prefix", value: "/canary/" },
          headers: [{ name: "x-canary", kind: "exact", value: "1", present: true, invert: false }],
        }),
      );
    } else if (i % 3 === 0) {
      routes.push(entry(i, { ...base, path: { kind: "path", value: `/svc${i}.Api/Call` }, grpcOnly: true }));
    } else {
      routes.push(entry(i, { ...base, path: { kind: "prefix", value: `/svc${i}.Api/` } }));
    }
  }
  return {
    name: "bench",
    headers: NO_MUTATIONS,
    virtualHosts: [
      { name: "other", domains: ["other.local", "*.other.local"], routes: routes.slice(0, 5), retryPolicy: undefined, headers: NO_MUTATIONS },
      { name: "main", domains: ["api.mesh.local", "api.*"], routes, retryPolicy: undefined, headers: NO_MUTATIONS },
      { name: "default", domains: ["*"], routes: routes.slice(0, 1), retryPolicy: undefined, headers: NO_MUTATIONS },
    ],
  };
}

const table = new RouteTable(buildConfig());
const grpcHeaders: RequestHeaders = { ":method": "POST", "content-type": "application/grpc", te: "trailers" };
const canaryHeaders: RequestHeaders = { ":method": "GET", "x-canary": "1" };

const cases: [label: string, authority: string, path: string, headers: RequestHeaders][] = [
  ["early prefix hit", "api.mesh.local", "/svc1.Api/Call", grpcHeaders],
  ["late prefix hit (route 49)", "api.mesh.local", "/svc49.Api/Call", grpcHeaders],
  ["regex hit (route 20), query", "api.mesh.local", "/users/42/orders?page=2", canaryHeaders],
  ["header-matched (route 30)", "api.mesh.local", "/canary/x", canaryHeaders],
  ["miss after 50 routes", "api.mesh.local", "/nothing/here", grpcHeaders],
  ["authority with port", "api.mesh.local:8080", "/svc2.Api/Call", grpcHeaders],
];

const ITERATIONS = 2_000_000;
let sink = 0;
for (const [label, authority, path, headers] of cases) {
  const expected = table.match(authority, path, headers)?.name ?? "(none)";
  for (let i = 0; i < 200_000; i++) sink += table.match(authority, path, headers) === undefined ? 0 : 1;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) sink += table.match(authority, path, headers) === undefined ? 0 : 1;
  const ns = Number(process.hrtime.bigint() - start) / ITERATIONS;
  console.log(`${label.padEnd(30)} → ${expected.padEnd(7)} ${ns.toFixed(1).padStart(7)} ns/match`);
}
if (sink < 0) console.log(sink);
