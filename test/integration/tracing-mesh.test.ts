/**
 * The deploy/compose topology without containers: the discovery server serving deploy/compose/mesh.yaml
 * and two sidecars started from deploy/compose's bootstraps (addresses moved to loopback and free ports),
 * listeners over xDS traced through PILOTFISH_TRACE_ALL_LISTENERS. One call from the frontend's side
 * gives one trace: frontend SERVER → frontend CLIENT → echo SERVER → echo CLIENT.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { startControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { startOtlpReceiver, type OtlpReceiver } from "../helpers/otlp-receiver.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort, pollUntil, REPO_ROOT } from "../helpers/util.js";

const COMPOSE = join(REPO_ROOT, "deploy", "compose");

void describe("tracing across the compose mesh (xDS listeners)", { timeout: 90_000 }, () => {
  let receiver: OtlpReceiver;
  let echo: EchoServer;
  let cp: ControlPlane;
  let echoSidecar: Sidecar;
  let frontendSidecar: Sidecar;
  let client: EchoClient;

  before(async () => {
    receiver = await startOtlpReceiver();
    echo = await startEchoServer();
    const outbound = await closedPort();
    const inbound = await closedPort();
    const mesh = readFileSync(join(COMPOSE, "mesh.yaml"), "utf8")
      .replaceAll("10.77.0.21:15006", `127.0.0.1:${inbound}`)
      .replaceAll("0.0.0.0:15006", `127.0.0.1:${inbound}`)
      .replaceAll("127.0.0.1:50051", `127.0.0.1:${echo.port}`)
      .replaceAll("127.0.0.1:15001", `127.0.0.1:${outbound}`);
    cp = await startControlPlane(mesh);
    const bootstrap = (svc: string) =>
      readFileSync(join(COMPOSE, `${svc}-sidecar.yaml`), "utf8")
        .replaceAll("10.77.0.10", "127.0.0.1")
        .replaceAll("port_value: 18000", `port_value: ${cp.xdsPort}`)
        .replaceAll("address: 0.0.0.0, port_value: 9901", "address: 127.0.0.1, port_value: 0");
    const env = (svc: string): NodeJS.ProcessEnv => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.grpcPort}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_SERVICE_NAME: svc,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      PILOTFISH_TRACE_ALL_LISTENERS: "true",
    });
    echoSidecar = await startSidecar(bootstrap("echo"), { env: env("echo") });
    frontendSidecar = await startSidecar(bootstrap("frontend"), { env: env("frontend") });
    client = createEchoClient(outbound);
    // Listeners arrive over xDS after start-up: wait until a call goes through.
    await pollUntil(async () => (await unary(client, { message: "warm-up" }, { timeoutMs: 2000 })).status.code === grpc.status.OK, {
      timeoutMs: 20_000,
      intervalMs: 200,
      label: "a call through both sidecars",
    });
  });

  after(async () => {
    client?.close();
    await frontendSidecar?.stop();
    await echoSidecar?.stop();
    await cp?.kill("SIGTERM");
    await echo?.close();
    await receiver?.close();
  });

  void it("one call, one trace of four spans in the right chain", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const out = await unary(client, { message: "traced" }, { metadata: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    assert.equal(out.status.code, grpc.status.OK);
    const spans = await pollUntil(
      () => {
        const xs = receiver.spans.filter((s) => s.traceId === traceId);
        return xs.length >= 4 && xs;
      },
      { timeoutMs: 10_000, label: "four spans of the trace" },
    );
    assert.equal(spans.length, 4);
    const find = (svc: string, kind: string) => spans.find((s) => s.resource["service.name"] === svc && s.kind === `SPAN_KIND_${kind}`)!;
    const fs = find("frontend", "SERVER");
    const fc = find("frontend", "CLIENT");
    const es = find("echo", "SERVER");
    const ec = find("echo", "CLIENT");
    assert.equal(fs.parentSpanId, "b7ad6b7169203331");
    assert.equal(fc.parentSpanId, fs.spanId);
    assert.equal(es.parentSpanId, fc.spanId);
    assert.equal(ec.parentSpanId, es.spanId);
    assert.equal(fc.attributes["upstream_cluster"], "echo");
    assert.equal(ec.attributes["upstream_cluster"], "echo-local");
    assert.equal(fs.attributes["node_id"], "frontend-sidecar");
    assert.equal(es.attributes["node_id"], "echo-sidecar");
    const seen = echo.calls.at(-1)!.metadata.get("traceparent")[0];
    assert.equal(seen, `00-${traceId}-${ec.spanId}-01`);
  });
});
