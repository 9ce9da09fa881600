/**
 * Active health checking with a manual clock and a scripted checker: thresholds, explicit failures,
 * intervals (no traffic, unhealthy, edges), jitter, un-ejection; plus the real gRPC and HTTP checkers
 * against servers on 127.0.0.1.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { OUTLIER_DEFAULTS } from "../../../src/config/decode/outlier-detection.js";
import type { HealthCheckConfig } from "../../../src/config/model.js";
import type { CheckVerdict, ProtocolChecker } from "../../../src/health/checker.js";
import { decodeServingStatus, encodeHealthCheckRequest, GrpcHealthChecker } from "../../../src/health/grpc-health-checker.js";
import { HealthChecker } from "../../../src/health/health-checker.js";
import { HttpHealthChecker } from "../../../src/health/http-health-checker.js";
import { OutlierDetector } from "../../../src/outlier/outlier-detector.js";
import { outlierStats } from "../../../src/outlier/outlier-stats.js";
import { StatsStore } from "../../../src/stats/stats-store.js";
import { HealthFlag, Host } from "../../../src/upstream/host.js";
import { fixedRandom, ManualClock } from "../outlier/manual-clock.js";

const CONFIG: HealthCheckConfig = {
  timeoutMs: 100, intervalMs: 1000, initialJitterMs: 0, intervalJitterMs: 0, intervalJitterPercent: 0,
  unhealthyThreshold: 3, healthyThreshold: 2, reuseConnection: true, noTrafficIntervalMs: 60_000,
  noTrafficHealthyIntervalMs: 60_000, unhealthyIntervalMs: 500, unhealthyEdgeIntervalMs: 200, healthyEdgeIntervalMs: 300,
  checker: { kind: "grpc", serviceName: "", authority: undefined, initialMetadata: [] },
};

class ScriptedChecker implements ProtocolChecker {
  verdicts: CheckVerdict[] = [];
  fallback: CheckVerdict = "healthy";
  calls = 0;
  check(): Promise<CheckVerdict> {
    this.calls++;
    return Promise.resolve(this.verdicts.shift() ?? this.fallback);
  }
  release(): void {}
  close(): void {}
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const failed = (h: Host): boolean => (h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0;

function setup(over: Partial<HealthCheckConfig> = {}, traffic = 1) {
  const clock = new ManualClock();
  const checker = new ScriptedChecker();
  const changes: Host[] = [];
  const host = new Host({ address: "127.0.0.1", port: 1 }, 1, undefined, "UNKNOWN");
  const hc = new HealthChecker("c", { ...CONFIG, ...over }, clock, fixedRandom([], 0.5), (h) => changes.push(h), undefined, () => traffic, undefined, checker);
  hc.setHosts([host]);
  /** Runs the next check (advancing to it) and lets its promise settle. */
  const step = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await flush();
  };
  return { clock, checker, host, hc, changes, step };
}

void describe("health checker state machine", () => {
  void test("first check applies at once; then unhealthy_threshold network failures in a row", async () => {
    const { checker, host, step } = setup();
    checker.verdicts = ["healthy", "network", "network", "healthy", "network", "network", "network"];
    await step(0);
    assert.ok(!failed(host));
    await step(1000);
    await step(1000);
    await step(1000); // success resets the count
    await step(1000);
    await step(1000);
    assert.ok(!failed(host));
    await step(1000);
    assert.ok(failed(host));
  });

  void test("a first failing check marks the host at once", async () => {
    const { checker, host, step } = setup();
    checker.verdicts = ["network"];
    await step(0);
    assert.ok(failed(host));
  });

  void test("an explicit NOT_SERVING (active failure) marks the host at once", async () => {
    const { checker, host, step } = setup();
    checker.verdicts = ["healthy", "active"];
    await step(0);
    await step(1000);
    assert.ok(failed(host));
  });

  void test("healthy_threshold passes bring it back", async () => {
    const { checker, host, step, changes } = setup();
    checker.verdicts = ["active", "healthy", "healthy"];
    await step(0);
    assert.ok(failed(host));
    await step(200); // unhealthy edge interval
    assert.ok(failed(host));
    await step(500);
    assert.ok(!failed(host));
    assert.equal(changes.length, 2);
  });

  void test("intervals: edge, steady, unhealthy, and no traffic", async () => {
    const a = setup();
    a.checker.verdicts = ["active"];
    await a.step(0);
    assert.equal(a.hc.intervalFor(a.host), 200);
    a.checker.verdicts = ["active"];
    await a.step(200);
    assert.equal(a.hc.intervalFor(a.host), 500);
    a.checker.verdicts = ["healthy", "healthy"];
    await a.step(500);
    await a.step(500);
    assert.equal(a.hc.intervalFor(a.host), 300);
    await a.step(300);
    assert.equal(a.hc.intervalFor(a.host), 1000);
    const b = setup({}, 0);
    await b.step(0);
    assert.equal(b.hc.intervalFor(b.host), 60_000);
    assert.equal(b.checker.calls, 1);
    await b.step(59_999);
    assert.equal(b.checker.calls, 1);
    await b.step(1);
    assert.equal(b.checker.calls, 2);
  });

  void test("jitter: interval_jitter and interval_jitter_percent add random time", async () => {
    const { hc, host, step } = setup({ intervalJitterMs: 100, intervalJitterPercent: 10 });
    await step(0);
    // random 0.5 each: 1000 + floor(0.5 × 100) + floor(0.5 × 100)
    assert.equal(hc.intervalFor(host), 1100);
  });

  void test("a passing check un-ejects an outlier-ejected host", async () => {
    const clock = new ManualClock();
    const checker = new ScriptedChecker();
    const host = new Host({ address: "127.0.0.1", port: 1 }, 1, undefined, "UNKNOWN");
    const od = new OutlierDetector({ ...OUTLIER_DEFAULTS, alwaysEjectOneHost: true }, outlierStats(new StatsStore(), "c"), clock, fixedRandom(), () => {});
    od.setHosts([host]);
    for (let i = 0; i < 5; i++) host.recordResult(503);
    assert.ok((host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0);
    const hc = new HealthChecker("c", CONFIG, clock, fixedRandom(), () => {}, od, () => 1, undefined, checker);
    hc.setHosts([host]);
    clock.advance(0);
    await flush();
    assert.equal(host.healthFlags, 0);
    hc.stop();
  });

  void test("ignore_new_hosts_until_first_hc: a host takes no traffic until its first check completes", async () => {
    const clock = new ManualClock();
    const checker = new ScriptedChecker();
    const hosts = [1, 2].map((p) => new Host({ address: "127.0.0.1", port: p }, 1, undefined, "UNKNOWN"));
    const hc = new HealthChecker("c", { ...CONFIG, initialJitterMs: 100 }, clock, fixedRandom([0, 0.5]), () => {}, undefined, () => 1, undefined, checker, true);
    hc.setHosts(hosts);
    assert.ok(hosts.every((h) => !h.available && h.healthText() === "/pending_active_hc"));
    checker.verdicts = ["healthy", "active"];
    clock.advance(0);
    await flush();
    assert.equal(hosts[0].healthText(), "healthy");
    assert.equal(hosts[1].healthText(), "/pending_active_hc");
    clock.advance(50);
    await flush();
    assert.equal(hosts[1].healthText(), "/failed_active_hc");
    hc.stop();
  });

  void test("removed hosts stop being checked", async () => {
    const { checker, hc, step, clock } = setup();
    await step(0);
    hc.setHosts([]);
    await step(10_000);
    assert.equal(checker.calls, 1);
    assert.equal(clock.pending, 0);
  });
});

void describe("gRPC health codec", () => {
  void test("request and response", () => {
    assert.deepEqual(encodeHealthCheckRequest(""), Buffer.alloc(0));
    assert.deepEqual(encodeHealthCheckRequest("echo"), Buffer.from([0x0a, 4, ...Buffer.from("echo")]));
    assert.equal(encodeHealthCheckRequest("x".repeat(200)).subarray(0, 3).toString("hex"), "0ac801");
    assert.equal(decodeServingStatus(Buffer.from([0x08, 1])), 1);
    assert.equal(decodeServingStatus(Buffer.from([0x08, 2])), 2);
    assert.equal(decodeServingStatus(Buffer.alloc(0)), 0);
  });
});

void describe("real checkers", () => {
  const closers: Array<() => void> = [];
  after(() => closers.forEach((c) => c()));

  void test("gRPC: SERVING passes, NOT_SERVING and unknown services fail actively, a closed port is a network failure", async () => {
    const status = new Map<string, number>([["", 1], ["up", 1], ["down", 2]]);
    const server = new grpc.Server();
    server.addService(
      {
        Check: {
          path: "/grpc.health.v1.Health/Check", requestStream: false, responseStream: false,
          requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const service = call.request.length > 2 ? call.request.subarray(2).toString() : "";
          const s = status.get(service);
          if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: "unknown service" });
          else cb(null, Buffer.from([0x08, s]));
        },
      },
    );
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    closers.push(() => server.forceShutdown());
    const host = new Host({ address: "127.0.0.1", port }, 1, undefined, "UNKNOWN");
    const verdict = async (service: string): Promise<CheckVerdict> => {
      const c = new GrpcHealthChecker(service, "c", [], true, 1000);
      try {
        return await c.check(host, 2000);
      } finally {
        c.close();
      }
    };
    assert.equal(await verdict(""), "healthy");
    assert.equal(await verdict("up"), "healthy");
    assert.equal(await verdict("down"), "active");
    assert.equal(await verdict("nope"), "active");
    server.forceShutdown();
    const closed = new GrpcHealthChecker("", "c", [], true, 1000);
    assert.equal(await closed.check(host, 500), "network");
    closed.close();
  });

  void test("HTTP: expected statuses pass, others fail actively, timeouts are network failures", async () => {
    let answer = 200;
    let hang = false;
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.host);
      if (hang) return;
      res.statusCode = answer;
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    closers.push(() => server.close());
    closers.push(() => server.closeAllConnections());
    const port = (server.address() as AddressInfo).port;
    const host = new Host({ address: "127.0.0.1", port }, 1, undefined, "UNKNOWN");
    const c = new HttpHealthChecker("/healthz", "svc", [{ start: 200, end: 300 }], [], [], true);
    closers.push(() => c.close());
    assert.equal(await c.check(host, 1000), "healthy");
    answer = 204;
    assert.equal(await c.check(host, 1000), "healthy");
    answer = 503;
    assert.equal(await c.check(host, 1000), "active");
    hang = true;
    assert.equal(await c.check(host, 100), "network");
    assert.equal(seen[0], "svc");
  });
});
