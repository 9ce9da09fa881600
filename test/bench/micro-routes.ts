/**
 * Micro-benchmark: RouteTable.match() against route count (1 .. 10,000) in one virtual host. Not a
 * test; `npm run bench:micro`. Routes are `/svc<i>.Api/` prefixes (every third a gRPC-only exact
 * path), like a mesh with one route per service. Prints ns per match for the first route, the last
 * route, and a miss (which scans every route).
 */
import type { RouteConfig, RouteEntryConfig } from "../../src/config/model.js";
import { RouteTable, type RequestHeaders } from "../../src/router/route-table.js";

const COUNTS = [1, 10, 100, 1000, 10_000];
const NO_MUTATIONS = { requestToAdd: [], requestToRemove: [], responseToAdd: [], responseToRemove: [] };
const TIME_MS = Number(process.env.TIME_MS ?? 300);

function entry(i: number): RouteEntryConfig {
  const base = { caseSensitive: true, headers: [], grpcOnly: i % 3 === 0 };
  return {
    name: `r${i}`,
    match: i % 3 === 0 ? { ...base, path: { kind: "path", value: `/svc${i}.Api/Call` } } : { ...base, path: { kind: "prefix", value: `/svc${i}.Api/` } },
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

function table(n: number): RouteTable {
  const config: RouteConfig = {
    name: "bench",
    headers: NO_MUTATIONS,
    virtualHosts: [{ name: "main", domains: ["*"], routes: Array.from({ length: n }, (_, i) => entry(i)), retryPolicy: undefined, headers: NO_MUTATIONS }],
  };
  return new RouteTable(config);
}

const grpc: RequestHeaders = { ":method": "POST", "content-type": "application/grpc", te: "trailers" };
let sink = 0;
/** ns per match, timed over batches until ~TIME_MS passed (after a warm-up of the same length). */
function measure(t: RouteTable, path: string): number {
  const batch = (): void => {
    for (let i = 0; i < 100; i++) sink += t.match("api.mesh.local", path, grpc) === undefined ? 0 : 1;
  };
  const until = (ms: number): number => {
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) {
      batch();
      n += 100;
    }
    return n;
  };
  until(TIME_MS);
  const start = process.hrtime.bigint();
  const n = until(TIME_MS);
  return Number(process.hrtime.bigint() - start) / n;
}

console.log(`RouteTable.match() cost, ns per match (Node ${process.version})\n`);
console.log(`| case | ${COUNTS.map((c) => `${c} routes`).join(" | ")} |`);
console.log(`|---|${COUNTS.map(() => "---").join("|")}|`);
const tables = COUNTS.map(table);
const rows: [string, (n: number) => string][] = [
  ["first route", () => "/svc0.Api/Call"],
  ["last route", (n) => `/svc${n - 1}.Api/Call`],
  ["miss (scans all)", () => "/nothing.Here/Call"],
];
for (const [label, pathOf] of rows) {
  console.log(`| ${label} | ${COUNTS.map((n, i) => measure(tables[i], pathOf(n)).toFixed(1)).join(" | ")} |`);
}
if (sink < 0) console.log(sink);
