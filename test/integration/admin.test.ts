/**
 * The sidecar's admin server: /ready, /clusters?format=json, /stats counters (Envoy names), the memory
 * gauges against the process's /proc figures, and that the other documented endpoints answer.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { describeStatus, unary } from "../helpers/grpc-client.js";
import { startEchoStack, type EchoStack } from "../helpers/stack.js";
import { parseStats } from "../helpers/admin.js";
import { http1Request, pollUntil } from "../helpers/util.js";

/** Finds objects anywhere in a JSON value satisfying `pred`. */
function findDeep(v: unknown, pred: (o: Record<string, unknown>) => boolean, acc: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(v)) for (const x of v) findDeep(x, pred, acc);
  else if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (pred(o)) acc.push(o);
    for (const x of Object.values(o)) findDeep(x, pred, acc);
  }
  return acc;
}

void describe("admin endpoints", { timeout: 60_000 }, () => {
  let stack: EchoStack;
  let admin: number;

  before(async () => {
    stack = await startEchoStack();
    assert.ok(stack.sidecar.adminPort, `ready line has no admin_port\n${stack.sidecar.tail()}`);
    admin = stack.sidecar.adminPort;
  });
  after(async () => {
    await stack?.close();
  });

  async function stats(): Promise<Map<string, number>> {
    const res = await http1Request({ port: admin, path: "/stats" });
    assert.equal(res.status, 200);
    return parseStats(res.body);
  }

  void it("GET /ready: 200 LIVE", { timeout: 10_000 }, async () => {
    const res = await http1Request({ port: admin, path: "/ready" });
    assert.equal(res.status, 200);
    assert.equal(res.body.trim(), "LIVE");
  });

  void it("GET /clusters?format=json lists the echo cluster with its host address", { timeout: 10_000 }, async () => {
    const res = await http1Request({ port: admin, path: "/clusters?format=json" });
    assert.equal(res.status, 200);
    const json: unknown = JSON.parse(res.body);
    const echo = findDeep(json, (o) => o.name === "echo");
    assert.ok(echo.length > 0, `no cluster named echo in ${res.body.slice(0, 2000)}`);
    const text = JSON.stringify(echo);
    const port = stack.echo.port;
    assert.ok(
      text.includes(`127.0.0.1:${port}`) || (text.includes("127.0.0.1") && new RegExp(`"port_value":${port}\\b`).test(text)),
      `echo cluster does not show host 127.0.0.1:${port}: ${text.slice(0, 2000)}`,
    );
  });

  void it("GET /stats: Envoy-named counters increase after requests", { timeout: 20_000 }, async () => {
    const before = await stats();
    const get = (m: Map<string, number>, k: string): number => m.get(k) ?? 0;
    for (let i = 0; i < 3; i++) {
      const out = await unary(stack.client, { message: `stats${i}` });
      assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    }
    const names = ["cluster.echo.upstream_rq_total", "cluster.echo.upstream_rq_2xx", "http.outbound.downstream_rq_total"];
    let last = before;
    await pollUntil(
      async () => {
        last = await stats();
        return names.every((n) => get(last, n) >= get(before, n) + 3);
      },
      { timeoutMs: 5000, intervalMs: 100, label: "stats counters to count 3 more requests" },
    ).catch((e: unknown) => {
      throw new Error(
        `${e instanceof Error ? e.message : String(e)}: ${names.map((n) => `${n} ${before.get(n)} -> ${last.get(n)}`).join(", ")}`,
      );
    });
  });

  void it("GET /stats: server.memory_physical_size is the sidecar process's RSS; heap size and allocated bytes below it", { timeout: 10_000 }, async () => {
    const s = await stats();
    const vmRssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${stack.sidecar.pid}/status`, "utf8"))![1]);
    const rss = s.get("server.memory_physical_size")!;
    assert.ok(Math.abs(rss - vmRssKiB * 1024) < 8 * 1024 * 1024, `memory_physical_size ${rss} vs VmRSS ${vmRssKiB} KiB of pid ${stack.sidecar.pid}`);
    for (const g of ["server.memory_heap_size", "server.memory_allocated"]) {
      const v = s.get(g)!;
      assert.ok(v > 1024 * 1024 && v < rss, `${g} ${v} (rss ${rss})`);
    }
    const prom = await http1Request({ port: admin, path: "/stats/prometheus" });
    assert.match(prom.body, /^# TYPE envoy_server_memory_physical_size gauge\nenvoy_server_memory_physical_size \d+$/m);
  });

  void it("GET /stats/prometheus, GET /config_dump, POST /healthcheck/fail|ok answer", { timeout: 10_000 }, async () => {
    const prom = await http1Request({ port: admin, path: "/stats/prometheus" });
    assert.equal(prom.status, 200);
    assert.match(prom.body, /upstream_rq_total/);

    const dump = await http1Request({ port: admin, path: "/config_dump" });
    assert.equal(dump.status, 200);
    const parsed: unknown = JSON.parse(dump.body);
    const text = JSON.stringify(parsed);
    assert.ok(text.includes('"outbound"') && text.includes('"echo"'), "config_dump names neither listener nor cluster");

    const fail = await http1Request({ port: admin, method: "POST", path: "/healthcheck/fail" });
    assert.equal(fail.status, 200);
    const ok = await http1Request({ port: admin, method: "POST", path: "/healthcheck/ok" });
    assert.equal(ok.status, 200);
  });
});
