/**
 * `/stats/prometheus` is valid Prometheus text (parsed by a Prometheus text-format parser), uses
 * Envoy's names and labels, includes the per-cluster upstream_rq_time histogram, and its counters
 * move as calls succeed and fail.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_PATH_PREFIX, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { serverStream, unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort } from "../helpers/util.js";

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}
const require = createRequire(import.meta.url);
// The package ships CommonJS without type declarations.
const parsePrometheus = require("parse-prometheus-text-format") as (text: string) => Family[];

async function scrapeText(sc: Sidecar): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${sc.adminPort}/stats/prometheus`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return res.text();
}

async function scrape(sc: Sidecar): Promise<Map<string, Family>> {
  const families = parsePrometheus(await scrapeText(sc));
  return new Map(families.map((f) => [f.name, f]));
}

/**
 * One labelled series of a histogram family, parsed alone: the parser folds every series of a
 * histogram family into one, so the series is cut out (its identifying label dropped) first.
 */
function histogramSeries(text: string, family: string, label: string, value: string): Sample {
  const tag = `${label}="${value}"`;
  const lines = text
    .split("\n")
    .filter((l) => l.startsWith(`${family}_`) && l.includes(tag))
    .map((l) => l.replace(`{${tag},`, "{").replace(`{${tag}}`, ""));
  const fams = parsePrometheus([`# TYPE ${family} histogram`, ...lines, ""].join("\n"));
  assert.equal(fams.length, 1);
  assert.equal(fams[0].metrics.length, 1);
  return fams[0].metrics[0];
}

function value(fams: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const fam = fams.get(name);
  if (fam === undefined) return 0;
  const m = fam.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m === undefined ? 0 : Number(m.value);
}

const GOOD = { envoy_cluster_name: "good" };
const DEAD = { envoy_cluster_name: "dead" };
const HCM = { envoy_http_conn_manager_prefix: "outbound" };

void describe("/stats/prometheus", { timeout: 60_000 }, () => {
  let echo: EchoServer;
  let sc: Sidecar;
  let client: EchoClient;

  before(async () => {
    echo = await startEchoServer();
    const dead = await closedPort();
    sc = await startSidecar(
      bootstrapYaml({
        listeners: [
          {
            name: "outbound",
            routes: [
              { path: `${ECHO_PATH_PREFIX}ServerStream`, cluster: "dead" },
              { prefix: ECHO_PATH_PREFIX, cluster: "good" },
            ],
          },
        ],
        clusters: [
          { name: "good", endpoints: [echo.port] },
          { name: "dead", endpoints: [dead] },
        ],
      }),
    );
    client = createEchoClient(sc.port("outbound"));
  });
  after(async () => {
    client?.close();
    await sc?.stop();
    await echo?.close();
  });

  void it("parses, with Envoy names, and counters move with calls and failures", async () => {
    const before = await scrape(sc);
    assert.equal(before.get("envoy_cluster_upstream_rq_total")?.type, "COUNTER");
    assert.equal(before.get("envoy_cluster_membership_healthy")?.type, "GAUGE");
    assert.equal(before.get("envoy_cluster_upstream_rq_time")?.type, "HISTOGRAM");
    assert.equal(value(before, "envoy_cluster_upstream_rq_total", GOOD), 0);

    for (let i = 0; i < 5; i++) assert.equal((await unary(client, { message: "ok" })).status.code, grpc.status.OK);
    // A call routed to a cluster whose only host refuses connections.
    const failed = await serverStream(client, { message: "x" }).done;
    assert.equal(failed.status.code, grpc.status.UNAVAILABLE);
    // No route.
    const generic = new grpc.Client(`127.0.0.1:${sc.port("outbound")}`, grpc.credentials.createInsecure());
    const nr = await new Promise<number>((resolve) => {
      generic.makeUnaryRequest("/nowhere.Svc/M", (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (err) => resolve(err?.code ?? 0));
    });
    generic.close();
    assert.equal(nr, grpc.status.UNIMPLEMENTED);

    const after = await scrape(sc);
    assert.equal(value(after, "envoy_cluster_upstream_rq_total", GOOD), 5);
    assert.equal(value(after, "envoy_cluster_upstream_rq_2xx", GOOD), 5);
    assert.equal(value(after, "envoy_cluster_upstream_rq_total", DEAD), 1);
    assert.ok(value(after, "envoy_cluster_upstream_cx_connect_fail", DEAD) >= 1);
    assert.equal(value(after, "envoy_http_downstream_rq_total", HCM), 7);
    assert.equal(value(after, "envoy_http_downstream_rq_2xx", HCM), 7, "gRPC local replies are HTTP 200");
    assert.equal(value(after, "envoy_http_no_route", HCM), 1);
    assert.equal(value(after, "envoy_http_response_flag_NR", HCM), 1);
    assert.equal(value(after, "envoy_http_response_flag_UF", HCM), 1);
    assert.equal(value(after, "envoy_http_downstream_rq_active", HCM), 0);

    // The histogram: cumulative buckets ending in +Inf = count; one observation per served call.
    const text = await scrapeText(sc);
    const good = histogramSeries(text, "envoy_cluster_upstream_rq_time", "envoy_cluster_name", "good");
    assert.equal(Number(good.count), 5);
    assert.ok(Number(good.sum) > 0);
    // (Object keys put integer-like bounds first: order them by value.)
    const les = Object.keys(good.buckets!).sort((x, y) => Number(x.replace("+Inf", "Infinity")) - Number(y.replace("+Inf", "Infinity")));
    assert.equal(les.length, 20, "Envoy's 19 default bounds plus +Inf");
    assert.equal(les.at(-1), "+Inf");
    let prev = 0;
    for (const le of les) {
      const n = Number(good.buckets![le]);
      assert.ok(n >= prev, `bucket le=${le} is cumulative`);
      prev = n;
    }
    assert.equal(prev, 5);
    const dead = histogramSeries(text, "envoy_cluster_upstream_rq_time", "envoy_cluster_name", "dead");
    assert.equal(Number(dead.count), 0, "attempts without a response are not timed");

    // The text form shows the histogram too.
    const statsText = await (await fetch(`http://127.0.0.1:${sc.adminPort}/stats?filter=upstream_rq_time`)).text();
    assert.match(statsText, /^cluster\.good\.upstream_rq_time: P50\([\d.]+\) P90\([\d.]+\) P99\([\d.]+\) P100\([\d.]+\) count\(5\) sum\([\d.]+\)$/m);
  });
});
