/**
 * `pilotfish sidecar --concurrency 2`: two worker processes share the listener port (SO_REUSEPORT) and
 * both serve traffic, the primary's admin sums their stats and merges /clusters, a killed worker is
 * restarted and traffic keeps flowing, and SIGTERM stops every process cleanly.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseStats } from "../helpers/admin.js";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { startH2Upstream, type H2Upstream } from "../helpers/h2-upstream.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { http1Request, http2Request, until } from "../helpers/util.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe("worker processes (--concurrency 2)", { timeout: 120_000 }, () => {
  let web: H2Upstream;
  let sidecar: Sidecar;
  let port: number;
  let admin: number;
  let workerPids: number[];
  let sent = 0;

  before(async () => {
    web = await startH2Upstream();
    sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [{ name: "outbound", routes: [{ prefix: "/", cluster: "web" }] }],
        clusters: [{ name: "web", endpoints: [web.port] }],
      }),
      { extraArgs: ["--concurrency", "2"], readyTimeoutMs: 60_000 },
    );
    port = sidecar.port("outbound");
    assert.ok(sidecar.adminPort !== null, sidecar.tail());
    admin = sidecar.adminPort;
    const ready = sidecar.logs().find((l) => l.msg === "sidecar ready");
    workerPids = (ready?.workers ?? []) as number[];
  });
  after(async () => {
    await sidecar?.stop();
    await web?.close();
  });

  async function stats(query = ""): Promise<Map<string, number>> {
    const res = await http1Request({ port: admin, path: `/stats${query}` });
    assert.equal(res.status, 200, res.body);
    return parseStats(res.body);
  }

  /** One GET on a fresh connection (a new source port, so the kernel may pick either worker). */
  async function get(path = "/hello"): Promise<void> {
    const res = await http2Request({ port, path });
    assert.equal(res.headers[":status"], 200, `GET ${path} through the sidecar: ${res.headers[":status"]}`);
    sent++;
  }

  void it("reports ready with two live worker pids other than its own", () => {
    assert.equal(workerPids.length, 2, sidecar.tail());
    for (const pid of workerPids) {
      assert.notEqual(pid, sidecar.pid);
      assert.ok(alive(pid), `worker ${pid} not running`);
    }
  });

  void it("both workers serve traffic on the shared port; admin sums their stats", { timeout: 60_000 }, async () => {
    await until("both workers served requests", 45_000, async () => {
      await Promise.all(Array.from({ length: 8 }, () => get()));
      const s = await stats();
      return (s.get("http.outbound.worker_0.downstream_rq_total") ?? 0) > 0 && (s.get("http.outbound.worker_1.downstream_rq_total") ?? 0) > 0;
    });
    const s = await stats();
    const w0 = s.get("http.outbound.worker_0.downstream_rq_total")!;
    const w1 = s.get("http.outbound.worker_1.downstream_rq_total")!;
    assert.equal(s.get("http.outbound.downstream_rq_total"), sent, "aggregate is not the number of requests sent");
    assert.equal(w0 + w1, sent, "per-worker counts do not add up");
    assert.equal(s.get("cluster.web.upstream_rq_total"), sent);
    // Each worker's own view, straight from that worker.
    assert.equal((await stats("?worker=0")).get("http.outbound.downstream_rq_total"), w0);
    assert.equal((await stats("?worker=1")).get("http.outbound.downstream_rq_total"), w1);
    assert.equal(s.get("server.concurrency"), 2);
    // Each worker started without the optimizing compilers and turned them on once ready.
    assert.equal(s.get("server.optimizing_compilers_started"), 2);
  });

  void it("/clusters merges the host's counters; /ready is LIVE", async () => {
    const res = await http1Request({ port: admin, path: "/clusters?format=json" });
    const json = JSON.parse(res.body) as { cluster_statuses: { name: string; host_statuses: { stats: { rq_total: number }; connections: number }[] }[] };
    const webCluster = json.cluster_statuses.find((c) => c.name === "web");
    assert.ok(webCluster, res.body);
    assert.equal(webCluster.host_statuses.length, 1, "the same host from two workers must be one entry");
    assert.equal(webCluster.host_statuses[0].stats.rq_total, sent);
    assert.equal(webCluster.host_statuses[0].connections, 2, "each worker keeps its own upstream connection");
    const text = await http1Request({ port: admin, path: "/clusters" });
    assert.match(text.body, new RegExp(`web::127\\.0\\.0\\.1:${web.port}::rq_total::${sent}\\n`));
    const ready = await http1Request({ port: admin, path: "/ready" });
    assert.equal(ready.status, 200);
    assert.equal(ready.body.trim(), "LIVE");
  });

  void it("a killed worker is restarted and traffic keeps flowing", { timeout: 60_000 }, async () => {
    const victim = workerPids[0];
    process.kill(victim, "SIGKILL");
    await until("worker restart counted", 30_000, async () => (await stats()).get("server.worker_restarts") === 1);
    await until("admin LIVE again", 30_000, async () => (await http1Request({ port: admin, path: "/ready" })).status === 200);
    const restarted = sidecar.logs().find((l) => l.msg === "worker restarted");
    assert.ok(restarted, sidecar.tail());
    assert.equal(restarted.worker, 0);
    assert.ok(typeof restarted.pid === "number" && restarted.pid !== victim && alive(restarted.pid));
    workerPids[0] = restarted.pid;
    // Requests over fresh connections all succeed: no connection lands on a dead socket.
    const before = (await stats("?worker=0")).get("http.outbound.downstream_rq_total") ?? 0;
    await until("the new worker 0 serves", 45_000, async () => {
      await Promise.all(Array.from({ length: 8 }, () => get()));
      return ((await stats("?worker=0")).get("http.outbound.downstream_rq_total") ?? 0) > before;
    });
  });

  void it("SIGTERM stops the primary and every worker with exit code 0", { timeout: 30_000 }, async () => {
    const info = await sidecar.stop("SIGTERM", 20_000);
    assert.equal(info.code, 0, sidecar.tail());
    for (const pid of workerPids) assert.equal(alive(pid), false, `worker ${pid} still running`);
    assert.ok(sidecar.logs().some((l) => l.msg === "sidecar stopped"));
    // Each worker exits by itself once drained, not when the primary's grace period ends in SIGKILL.
    assert.ok(!sidecar.logs().some((l) => String(l.msg).startsWith("workers still running")), sidecar.tail());
  });
});
