/**
 * (c) Active gRPC health checks through the real sidecar: a backend answering NOT_SERVING for the
 * checked service is marked /failed_active_hc and skipped, and takes traffic again once it serves.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { createEchoClient } from "../helpers/echo-proto.js";
import { unary } from "../helpers/grpc-client.js";
import { ServingStatus, startHealthEchoServer } from "../helpers/health-echo-server.js";
import { startSidecar } from "../helpers/sidecar.js";
import { delay, pollUntil } from "../helpers/util.js";

async function flagsOf(adminPort: number, port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/clusters`)).text();
  const m = new RegExp(`^echo::127\\.0\\.0\\.1:${port}::health_flags::(.*)$`, "m").exec(text);
  return m?.[1] ?? "(missing)";
}

void describe("active health checks through the sidecar", { timeout: 60_000 }, () => {
  void it("(c) a backend failing gRPC health checks is marked and skipped, and returns when it recovers", { timeout: 40_000 }, async (t) => {
    const backends = await Promise.all([0, 1, 2].map((i) => startHealthEchoServer({ name: `b${i}` })));
    t.after(() => Promise.all(backends.map((b) => b.close())));
    for (const b of backends) b.setStatus(ServingStatus.SERVING, "pilotfish.test.Echo");
    const doc = bootstrapObject({ listeners: [{ name: "outbound" }], clusters: [{ name: "echo", endpoints: backends.map((b) => b.port) }] });
    const cluster = (doc.static_resources as { clusters: Array<Record<string, unknown>> }).clusters[0];
    cluster.health_checks = [
      {
        timeout: "0.5s",
        interval: "0.2s",
        no_traffic_interval: "0.2s",
        unhealthy_threshold: 2,
        healthy_threshold: 2,
        grpc_health_check: { service_name: "pilotfish.test.Echo" },
      },
    ];
    const sidecar = await startSidecar(stringify(doc));
    t.after(() => sidecar.stop());
    const admin = sidecar.adminPort!;
    const client = createEchoClient(sidecar.port("outbound"));
    t.after(() => client.close());
    const [sick] = backends;

    await pollUntil(async () => (backends.every((b) => b.healthChecks >= 2) ? true : undefined), { timeoutMs: 5000, label: "first checks" });
    assert.equal(await flagsOf(admin, sick.port), "healthy");

    sick.setStatus(ServingStatus.NOT_SERVING, "pilotfish.test.Echo");
    const markedAt = Date.now();
    await pollUntil(async () => ((await flagsOf(admin, sick.port)) === "/failed_active_hc" ? true : undefined), { timeoutMs: 5000, label: "marked failed" });
    console.log(`marked /failed_active_hc after ${Date.now() - markedAt} ms`);

    const before = sick.arrivals.length;
    for (let i = 0; i < 60; i++) assert.equal((await unary(client, { message: "x" })).status.code, grpc.status.OK);
    assert.equal(sick.arrivals.length, before, "a backend failing its health checks got traffic");

    sick.setStatus(ServingStatus.SERVING, "pilotfish.test.Echo");
    const recoverAt = Date.now();
    await pollUntil(async () => ((await flagsOf(admin, sick.port)) === "healthy" ? true : undefined), { timeoutMs: 5000, label: "recovered" });
    console.log(`healthy again after ${Date.now() - recoverAt} ms (healthy_threshold 2 × 0.2 s)`);
    for (let i = 0; i < 60; i++) assert.equal((await unary(client, { message: "x" })).status.code, grpc.status.OK);
    assert.ok(sick.arrivals.length - before >= 10, `recovered backend got ${sick.arrivals.length - before} of 60 calls`);

    await delay(10);
    const s = parseStats(await (await fetch(`http://127.0.0.1:${admin}/stats`)).text());
    assert.ok((s.get("cluster.echo.health_check.attempt") ?? 0) > 6);
    assert.ok((s.get("cluster.echo.health_check.failure") ?? 0) >= 1);
    assert.equal(s.get("cluster.echo.health_check.healthy"), 3);
  });
});
