/**
 * Traces through two sidecars (client side → server side → backend), received by an OTLP receiver
 * that decodes the official OTLP protos: one trace, the right parent/child chain, kinds and
 * attributes, and the backend sees the last hop's traceparent. A dead or black-holing collector
 * leaves calls unaffected, memory bounded, and the lost spans counted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseStats } from "../helpers/admin.js";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_SERVICE, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../helpers/otlp-receiver.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort, delay, pollUntil } from "../helpers/util.js";
import { stringify } from "yaml";

interface Hcm {
  tracing?: unknown;
}

/** A one-listener bootstrap with HCM tracing, routing the Echo service to `upstreamPort`. */
function tracedBootstrap(opts: { nodeId: string; listener: string; upstreamPort: number; tracing: Record<string, unknown> }): string {
  const doc = bootstrapObject({
    nodeId: opts.nodeId,
    listeners: [{ name: opts.listener }],
    clusters: [{ name: "echo", endpoints: [opts.upstreamPort] }],
  });
  const sr = doc.static_resources as { listeners: { filter_chains: { filters: { typed_config: Hcm }[] }[] }[] };
  sr.listeners[0].filter_chains[0].filters[0].typed_config.tracing = opts.tracing;
  return stringify(doc);
}

function otelEnv(endpoint: string, protocol: "grpc" | "http/protobuf", service: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: service,
    OTEL_BSP_SCHEDULE_DELAY: "50",
    ...extra,
  };
}

async function stats(sc: Sidecar): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${sc.adminPort}/stats`);
  return parseStats(await res.text());
}

function byKind(spans: ReceivedSpan[], service: string, kind: string): ReceivedSpan {
  const found = spans.filter((s) => s.resource["service.name"] === service && s.kind === kind);
  assert.equal(found.length, 1, `one ${kind} span from ${service}: ${JSON.stringify(spans.map((s) => [s.resource["service.name"], s.kind, s.name]))}`);
  return found[0];
}

void describe("tracing through two sidecars", { timeout: 90_000 }, () => {
  let receiver: OtlpReceiver;
  let backend: EchoServer;
  let serverSide: Sidecar;
  let clientSide: Sidecar;
  let client: EchoClient;

  before(async () => {
    receiver = await startOtlpReceiver();
    backend = await startEchoServer();
    // The server side exports over OTLP/HTTP protobuf, the client side over OTLP/gRPC: both paths run.
    serverSide = await startSidecar(
      tracedBootstrap({
        nodeId: "server-sidecar",
        listener: "inbound",
        upstreamPort: backend.port,
        tracing: { random_sampling: { value: 100 }, spawn_upstream_span: true },
      }),
      { env: otelEnv(`http://127.0.0.1:${receiver.httpPort}`, "http/protobuf", "echo-server-side") },
    );
    clientSide = await startSidecar(
      tracedBootstrap({
        nodeId: "client-sidecar",
        listener: "outbound",
        upstreamPort: serverSide.port("inbound"),
        tracing: { random_sampling: { value: 100 }, spawn_upstream_span: true },
      }),
      { env: otelEnv(`http://127.0.0.1:${receiver.grpcPort}`, "grpc", "echo-client-side") },
    );
    client = createEchoClient(clientSide.port("outbound"));
  });

  after(async () => {
    client?.close();
    await clientSide?.stop();
    await serverSide?.stop();
    await backend?.close();
    await receiver?.close();
  });

  void it("one gRPC call makes one trace: SERVER → CLIENT → SERVER → CLIENT, backend sees the last CLIENT span as parent", async () => {
    const out = await unary(client, { message: "traced" }, { metadata: { "x-request-id": "rid-123" } });
    assert.equal(out.status.code, grpc.status.OK);
    const spans = await receiver.waitForSpans(4);
    await delay(200);
    assert.equal(receiver.spans.length, 4, "exactly four spans");

    const aServer = byKind(spans, "echo-client-side", "SPAN_KIND_SERVER");
    const aClient = byKind(spans, "echo-client-side", "SPAN_KIND_CLIENT");
    const bServer = byKind(spans, "echo-server-side", "SPAN_KIND_SERVER");
    const bClient = byKind(spans, "echo-server-side", "SPAN_KIND_CLIENT");

    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, "one trace");
    assert.equal(aServer.parentSpanId, "", "the client side's SERVER span is the root (the app sent no context)");
    assert.equal(aClient.parentSpanId, aServer.spanId);
    assert.equal(bServer.parentSpanId, aClient.spanId);
    assert.equal(bClient.parentSpanId, bServer.spanId);
    assert.deepEqual(new Set(spans.map((s) => s.via)), new Set(["grpc", "http"]), "both OTLP transports carried spans");

    // The backend saw the server side's CLIENT span as its parent.
    const call = await backend.waitForCall(0);
    const tp = call.metadata.get("traceparent")[0];
    assert.equal(tp, `00-${bClient.traceId}-${bClient.spanId}-01`);
    assert.equal(call.metadata.get("x-request-id")[0], "rid-123", "x-request-id passed on");

    for (const s of spans) {
      assert.equal(s.name, `${ECHO_SERVICE}/Unary`);
      assert.equal(s.attributes["rpc.system"], "grpc");
      assert.equal(s.attributes["rpc.service"], ECHO_SERVICE);
      assert.equal(s.attributes["rpc.method"], "Unary");
      assert.equal(s.attributes["http.request.method"], "POST");
      assert.equal(s.attributes["url.path"], `/${ECHO_SERVICE}/Unary`);
      assert.equal(s.attributes["http.response.status_code"], 200);
      assert.equal(s.attributes["rpc.grpc.status_code"], 0);
      assert.equal(s.attributes["upstream_cluster"], "echo");
      assert.equal(s.statusCode, "STATUS_CODE_UNSET");
    }
    assert.equal(aServer.attributes["node_id"], "client-sidecar");
    assert.equal(bServer.attributes["node_id"], "server-sidecar");
    assert.equal(aServer.attributes["response_flags"], "-");
    assert.equal(aServer.attributes["retry.count"], 0);
    assert.equal(aServer.attributes["guid:x-request-id"], "rid-123");
    assert.equal(aServer.attributes["network.peer.address"], "127.0.0.1");
    assert.equal(aClient.attributes["upstream_address"], `127.0.0.1:${serverSide.port("inbound")}`);
    assert.equal(aClient.attributes["server.address"], "127.0.0.1");
    assert.equal(aClient.attributes["server.port"], serverSide.port("inbound"));
    assert.equal(bClient.attributes["upstream_address"], `127.0.0.1:${backend.port}`);
    assert.equal(aServer.resource["service.instance.id"], "client-sidecar");

    const s = await stats(clientSide);
    assert.equal(s.get("tracing.opentelemetry.spans_sent"), 2);
    assert.equal(s.get("tracing.opentelemetry.spans_dropped"), 0);
  });

  void it("continues the app's W3C trace (traceparent and tracestate) and its B3 trace when there is no traceparent", async () => {
    const before = receiver.spans.length;
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const appSpan = "00f067aa0ba902b7";
    const w3c = await unary(client, { message: "w3c" }, {
      metadata: { traceparent: `00-${traceId}-${appSpan}-01`, tracestate: "vendor=abc" },
    });
    assert.equal(w3c.status.code, grpc.status.OK);
    await receiver.waitForSpans(before + 4);
    const mine = receiver.spans.slice(before).filter((s) => s.traceId === traceId);
    assert.equal(mine.length, 4, "all four spans joined the app's trace");
    const root = mine.find((s) => s.resource["service.name"] === "echo-client-side" && s.kind === "SPAN_KIND_SERVER");
    assert.equal(root?.parentSpanId, appSpan);
    const call = backend.calls.at(-1)!;
    assert.match(String(call.metadata.get("traceparent")[0]), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.equal(call.metadata.get("tracestate")[0], "vendor=abc");

    const b3Trace = "80f198ee56343ba864fe8b2a57d3eff7";
    const mid = receiver.spans.length;
    const b3 = await unary(client, { message: "b3" }, {
      metadata: { "x-b3-traceid": b3Trace, "x-b3-spanid": "e457b5a2e4d86bd1", "x-b3-sampled": "1" },
    });
    assert.equal(b3.status.code, grpc.status.OK);
    await receiver.waitForSpans(mid + 4);
    assert.equal(receiver.spans.slice(mid).filter((s) => s.traceId === b3Trace).length, 4, "the B3 trace was continued");
    const b3Call = backend.calls.at(-1)!;
    assert.equal(b3Call.metadata.get("x-b3-traceid")[0], b3Trace, "B3 propagated in its own encoding");
    assert.match(String(b3Call.metadata.get("traceparent")[0]), new RegExp(`^00-${b3Trace}-`));

    const single = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    const mid2 = receiver.spans.length;
    const b3s = await unary(client, { message: "b3 single" }, { metadata: { b3: `${single}-e457b5a2e4d86bd1-1` } });
    assert.equal(b3s.status.code, grpc.status.OK);
    await receiver.waitForSpans(mid2 + 4);
    assert.equal(receiver.spans.slice(mid2).filter((s) => s.traceId === single).length, 4, "single-header B3 continued");
    assert.match(String(backend.calls.at(-1)!.metadata.get("b3")[0]), new RegExp(`^${single}-[0-9a-f]{16}-1$`));
  });

  void it("a parent that did not sample is respected: no spans, the decision propagates", async () => {
    const before = receiver.spans.length;
    const out = await unary(client, { message: "unsampled" }, {
      metadata: { traceparent: "00-11111111111111111111111111111111-2222222222222222-00" },
    });
    assert.equal(out.status.code, grpc.status.OK);
    await delay(400);
    assert.equal(receiver.spans.length, before, "no span exported");
    assert.match(String(backend.calls.at(-1)!.metadata.get("traceparent")[0]), /^00-1{32}-[0-9a-f]{16}-00$/);
  });

  void it("PILOTFISH_TRACE_ALL_LISTENERS traces a listener whose HCM has no tracing (as listeners from xDS)", async () => {
    const doc = bootstrapObject({ nodeId: "plain", listeners: [{ name: "outbound" }], clusters: [{ name: "echo", endpoints: [backend.port] }] });
    const sc = await startSidecar(stringify(doc), {
      env: otelEnv(`http://127.0.0.1:${receiver.grpcPort}`, "grpc", "trace-all", { PILOTFISH_TRACE_ALL_LISTENERS: "true" }),
    });
    const c = createEchoClient(sc.port("outbound"));
    try {
      assert.equal((await unary(c, { message: "x" })).status.code, grpc.status.OK);
      const spans = await pollUntil(
        () => {
          const xs = receiver.spans.filter((s) => s.resource["service.name"] === "trace-all");
          return xs.length >= 2 && xs;
        },
        { timeoutMs: 10_000, label: "spans of a listener without HCM tracing" },
      );
      assert.deepEqual(spans.map((s) => s.kind).sort(), ["SPAN_KIND_CLIENT", "SPAN_KIND_SERVER"]);
    } finally {
      c.close();
      await sc.stop();
    }
  });

  void it("a failed call sets the span status to error with the response flag", async () => {
    const port = await closedPort();
    const sc = await startSidecar(
      tracedBootstrap({ nodeId: "broken", listener: "outbound", upstreamPort: port, tracing: {} }),
      { env: otelEnv(`http://127.0.0.1:${receiver.grpcPort}`, "grpc", "broken-side") },
    );
    const c = createEchoClient(sc.port("outbound"));
    try {
      const out = await unary(c, { message: "x" });
      assert.equal(out.status.code, grpc.status.UNAVAILABLE);
      const spans = await pollUntil(
        () => {
          const xs = receiver.spans.filter((s) => s.resource["service.name"] === "broken-side");
          return xs.length >= 1 && xs;
        },
        { timeoutMs: 10_000, label: "span of the failed call" },
      );
      assert.equal(spans.length, 1, "without spawn_upstream_span, one span per request");
      const sp = spans[0];
      assert.equal(sp.kind, "SPAN_KIND_SERVER");
      assert.equal(sp.statusCode, "STATUS_CODE_ERROR");
      assert.equal(sp.attributes["response_flags"], "UF");
      assert.equal(sp.attributes["rpc.grpc.status_code"], grpc.status.UNAVAILABLE);
    } finally {
      c.close();
      await sc.stop();
    }
  });
});

void describe("tracing with a collector that is down or black-holing", { timeout: 120_000 }, () => {
  let backend: EchoServer;
  before(async () => {
    backend = await startEchoServer();
  });
  after(async () => {
    await backend.close();
  });

  async function hammer(sc: Sidecar, n: number): Promise<void> {
    const c = createEchoClient(sc.port("outbound"));
    try {
      for (let i = 0; i < n; i += 50) {
        const outs = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => unary(c, { message: "x" }, { timeoutMs: 5000 })));
        for (const o of outs) assert.equal(o.status.code, grpc.status.OK, o.status.details);
      }
    } finally {
      c.close();
    }
  }

  for (const protocol of ["grpc", "http/protobuf"] as const) {
    void it(`collector down (${protocol}): calls succeed, queue bounded, spans counted as dropped`, async () => {
      const port = await closedPort();
      const sc = await startSidecar(
        tracedBootstrap({ nodeId: "n", listener: "outbound", upstreamPort: backend.port, tracing: {} }),
        { env: otelEnv(`http://127.0.0.1:${port}`, protocol, "down", { OTEL_BSP_MAX_QUEUE_SIZE: "64", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "32", OTEL_EXPORTER_OTLP_TIMEOUT: "500" }) },
      );
      try {
        const t0 = Date.now();
        await hammer(sc, 600);
        assert.ok(Date.now() - t0 < 30_000, "calls were not slowed down by the dead collector");
        const s = await pollUntil(
          async () => {
            const m = await stats(sc);
            return (m.get("tracing.opentelemetry.spans_dropped") ?? 0) >= 600 - 64 && m;
          },
          { timeoutMs: 15_000, label: "dropped spans counted" },
        );
        assert.equal(s.get("tracing.opentelemetry.spans_sent"), 0);
        assert.ok((s.get("tracing.opentelemetry.export_failed") ?? 0) >= 1);
      } finally {
        await sc.stop();
      }
    });
  }

  void it("black-holing collector: calls unaffected, memory bounded, drops counted", async () => {
    const receiver = await startOtlpReceiver();
    receiver.blackHole();
    const sc = await startSidecar(
      tracedBootstrap({ nodeId: "n", listener: "outbound", upstreamPort: backend.port, tracing: { spawn_upstream_span: true } }),
      { env: otelEnv(`http://127.0.0.1:${receiver.grpcPort}`, "grpc", "holed", { OTEL_BSP_MAX_QUEUE_SIZE: "128", OTEL_EXPORTER_OTLP_TIMEOUT: "1000" }) },
    );
    try {
      await hammer(sc, 300);
      const rssAfterWarmup = await sc.rssKb();
      const t0 = Date.now();
      await hammer(sc, 2000);
      assert.ok(Date.now() - t0 < 60_000, "calls kept flowing");
      const rss = await sc.rssKb();
      assert.ok(rss - rssAfterWarmup < 60 * 1024, `RSS grew by ${rss - rssAfterWarmup} KiB over 2000 traced calls`);
      const s = await stats(sc);
      // 2300 requests × 2 spans; at most the queue plus one in-flight batch are still held.
      const dropped = s.get("tracing.opentelemetry.spans_dropped") ?? 0;
      assert.ok(dropped >= 2 * 2300 - 128 - 512 - 1, `dropped ${dropped}`);
      assert.equal(s.get("tracing.opentelemetry.spans_sent") ?? 0, 0);
    } finally {
      await sc.stop();
      await receiver.close();
    }
  });
});
