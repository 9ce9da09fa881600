/**
 * Outlier ejection and circuit breaking through the real sidecar:
 * (a) three backends, one answering UNAVAILABLE to everything: ejected after at most 5 consecutive
 *     failures, no traffic while ejected, back after base_ejection_time, ejected twice as long the next
 *     time; with one retry, callers see (at least 99.9 %) success;
 * (d) max_requests N with N + k concurrent calls: k fail fast with UNAVAILABLE and flag UO, and no
 *     host is charged for them.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_PATH_PREFIX } from "../helpers/echo-proto.js";
import { startEchoServer } from "../helpers/echo-server.js";
import { serverStream, unary } from "../helpers/grpc-client.js";
import { startSidecar } from "../helpers/sidecar.js";
import { delay } from "../helpers/util.js";
import { stringify } from "yaml";

interface HostStatus {
  address: { socket_address: { port_value: number } };
  health_status: { flags: string; failed_outlier_check: boolean };
  stats: Record<string, number>;
  outlier?: { ejections: number };
}

async function hostStatuses(adminPort: number): Promise<Map<number, HostStatus>> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/clusters?format=json`);
  const doc = (await res.json()) as { cluster_statuses: Array<{ name: string; host_statuses: HostStatus[] }> };
  const out = new Map<number, HostStatus>();
  for (const h of doc.cluster_statuses.find((c) => c.name === "echo")!.host_statuses) out.set(h.address.socket_address.port_value, h);
  return out;
}

async function stats(adminPort: number): Promise<Map<string, number>> {
  return parseStats(await (await fetch(`http://127.0.0.1:${adminPort}/stats`)).text());
}

void describe("outlier ejection through the sidecar", { timeout: 60_000 }, () => {
  void it("(a) an always-UNAVAILABLE backend is ejected, skipped, returned, and ejected twice as long", { timeout: 40_000 }, async (t) => {
    const good1 = await startEchoServer({ name: "good1" });
    const good2 = await startEchoServer({ name: "good2" });
    const bad = await startEchoServer({ name: "bad", failAll: { code: grpc.status.UNAVAILABLE, message: "down" } });
    t.after(() => Promise.all([good1.close(), good2.close(), bad.close()]));
    const doc = bootstrapObject({
      listeners: [
        { name: "outbound", routes: [{ prefix: ECHO_PATH_PREFIX, cluster: "echo", retryPolicy: { retryOn: "unavailable", numRetries: 1 } }] },
      ],
      clusters: [{ name: "echo", endpoints: [good1.port, bad.port, good2.port], lbPolicy: "ROUND_ROBIN" }],
    });
    const cluster = (doc.static_resources as { clusters: Array<Record<string, unknown>> }).clusters[0];
    cluster.outlier_detection = {
      consecutive_5xx: 5,
      interval: "0.2s",
      base_ejection_time: "1s",
      always_eject_one_host: true,
    };
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const admin = sidecar.adminPort!;
    const client = createEchoClient(sidecar.port("outbound"));
    t.after(() => client.close());

    // One caller in a loop. The bad backend's arrival times tell the story: a burst of failures, a gap
    // while it is ejected, and so on; the caller stops at the first arrival after the second gap.
    const arrivals = (): number[] => bad.calls.map((c) => c.receivedAt);
    const gaps = (): Array<{ after: number; ms: number }> => {
      const a = arrivals();
      const out: Array<{ after: number; ms: number }> = [];
      for (let i = 1; i < a.length; i++) if (a[i] - a[i - 1] > 500) out.push({ after: i, ms: a[i] - a[i - 1] });
      return out;
    };
    let ok = 0;
    let failed = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 20_000;
    while (gaps().length < 2 && Date.now() < deadline) {
      const out = await unary(client, { message: "x" });
      if (out.status.code === grpc.status.OK) ok++;
      else {
        failed++;
        if (failures.length < 5) failures.push(`${out.status.code} ${out.status.details}`);
      }
    }
    const g = gaps();
    console.log(`bad backend: bursts of ${[g[0]?.after, (g[1]?.after ?? NaN) - (g[0]?.after ?? NaN)].join(", ")} calls, ejection gaps ${g.map((x) => x.ms).join(", ")} ms; calls ok=${ok} failed=${failed}; good ${good1.calls.length}+${good2.calls.length}`);
    assert.equal(g.length, 2, "expected two ejections");
    // Ejected after at most 5 consecutive failures, each time (one caller: nothing else in flight).
    assert.ok(g[0].after <= 5, `first ejection after ${g[0].after} failures`);
    assert.ok(g[1].after - g[0].after <= 5, `second ejection after ${g[1].after - g[0].after} failures`);
    // No traffic while ejected is what the gaps are; base 1 s, then 2 s, returned by the 200 ms sweep.
    assert.ok(g[0].ms >= 950 && g[0].ms <= 1600, `first ejection lasted ${g[0].ms} ms`);
    assert.ok(g[1].ms >= 1950 && g[1].ms <= 2700, `second ejection lasted ${g[1].ms} ms`);
    const total = ok + failed;
    assert.ok(total > 100, `only ${total} calls`);
    assert.ok(ok / total >= 0.999, `success ${ok}/${total}: ${failures.join("; ")}`);

    // The counters are read after the loop; on a loaded machine the host may be ejected once more in
    // between (the caller's last call can start a new burst), so they must be at least the gaps seen.
    const s = await stats(admin);
    const enforced = s.get("cluster.echo.outlier_detection.ejections_enforced_consecutive_5xx") ?? 0;
    assert.ok(enforced >= 2 && enforced <= 3, `enforced consecutive_5xx ejections: ${enforced}`);
    assert.ok((s.get("cluster.echo.outlier_detection.ejections_enforced_total") ?? 0) >= 2);
    const prom = await (await fetch(`http://127.0.0.1:${admin}/stats/prometheus`)).text();
    assert.match(prom, new RegExp(`outlier_detection_ejections_enforced_total\\{[^}]*\\} ${enforced}`));
    const hs = (await hostStatuses(admin)).get(bad.port)!;
    assert.equal(hs.outlier?.ejections, enforced);
    const text = await (await fetch(`http://127.0.0.1:${admin}/clusters`)).text();
    assert.match(text, new RegExp(`echo::127\\.0\\.0\\.1:${bad.port}::outlier_ejections::${enforced}`));
    assert.match(text, new RegExp(`echo::outlier::ejections_enforced_consecutive_5xx::${enforced}`));
  });

  void it("(d) max_requests N, N + k concurrent calls: k fail fast with UNAVAILABLE and UO, no host charged", { timeout: 30_000 }, async (t) => {
    const N = 4;
    const K = 3;
    const backend = await startEchoServer({ name: "slow" });
    t.after(() => backend.close());
    const doc = bootstrapObject({ listeners: [{ name: "outbound" }], clusters: [{ name: "echo", endpoints: [backend.port] }] });
    const cluster = (doc.static_resources as { clusters: Array<Record<string, unknown>> }).clusters[0];
    cluster.circuit_breakers = { thresholds: [{ max_requests: N }] };
    cluster.outlier_detection = { consecutive_5xx: 1, always_eject_one_host: true };
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const client = createEchoClient(sidecar.port("outbound"));
    t.after(() => client.close());
    // Warm the connection so that the N slow calls are all in flight before the extra K start.
    assert.equal((await unary(client, { message: "warm" })).status.code, grpc.status.OK);

    const slow = Array.from({ length: N }, () => unary(client, { message: "slow", initialDelayMs: 1500 }));
    while (backend.calls.length < N + 1) await delay(10);
    const started = Date.now();
    const extra = await Promise.all(Array.from({ length: K }, () => unary(client, { message: "extra" })));
    const fastMs = Date.now() - started;
    for (const out of extra) {
      assert.equal(out.status.code, grpc.status.UNAVAILABLE);
      assert.match(out.status.details, /overflow/);
    }
    assert.ok(fastMs < 1000, `overflow took ${fastMs} ms: not fail-fast`);
    const slowOut = await Promise.all(slow);
    assert.ok(slowOut.every((o) => o.status.code === grpc.status.OK));

    const s = await stats(sidecar.adminPort!);
    assert.equal(s.get("http.outbound.response_flag.UO"), K);
    assert.equal(s.get("cluster.echo.upstream_rq_pending_overflow"), K);
    const hs = (await hostStatuses(sidecar.adminPort!)).get(backend.port)!;
    assert.equal(hs.stats.rq_total, N + 1, "overflowed calls never reached a host");
    assert.equal(hs.stats.rq_error, 0);
    assert.equal(hs.health_status.failed_outlier_check, false, "overflow must not count against the host");
    assert.equal(s.get("cluster.echo.outlier_detection.ejections_detected_consecutive_5xx") ?? 0, 0);
  });

  void it("a gRPC status sent in trailers (after messages) counts as its HTTP mapping", { timeout: 30_000 }, async (t) => {
    const backend = await startEchoServer({ name: "b" });
    const other = await startEchoServer({ name: "other" });
    t.after(() => Promise.all([backend.close(), other.close()]));
    const doc = bootstrapObject({ listeners: [{ name: "outbound" }], clusters: [{ name: "echo", endpoints: [backend.port, other.port], lbPolicy: "ROUND_ROBIN" }] });
    const cluster = (doc.static_resources as { clusters: Array<Record<string, unknown>> }).clusters[0];
    cluster.outlier_detection = { consecutive_5xx: 3, always_eject_one_host: true, base_ejection_time: "30s" };
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const client = createEchoClient(sidecar.port("outbound"));
    t.after(() => client.close());
    // Round robin alternates: six calls give each backend three; each answers one message, then
    // a status in trailers: UNAVAILABLE from one, RESOURCE_EXHAUSTED from the other.
    for (let i = 0; i < 6; i++) {
      const code = i % 2 === 0 ? grpc.status.UNAVAILABLE : grpc.status.RESOURCE_EXHAUSTED;
      const out = await serverStream(client, { message: "m", responseCount: 1, statusCode: code, statusMessage: "late" }).done;
      assert.equal(out.messages.length, 1);
      assert.equal(out.status.code, code);
    }
    const hs = await hostStatuses(sidecar.adminPort!);
    const ejected = [...hs.values()].filter((h) => h.health_status.failed_outlier_check);
    // UNAVAILABLE (503) three times in a row ejects; RESOURCE_EXHAUSTED (429) is a success to the detector.
    assert.equal(ejected.length, 1);
    const s = await stats(sidecar.adminPort!);
    assert.equal(s.get("cluster.echo.outlier_detection.ejections_enforced_consecutive_5xx"), 1);
  });
});
