/** The discovery server traces each push: one span per node, type and version, ended by the ACK (or NACK). */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { adsSidecarBootstrap, startControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../helpers/otlp-receiver.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";

const MESH = `
upstreams:
  - name: echo
    protocol: grpc
    nodes: [ { address: 127.0.0.1:50051 } ]
routes:
  - name: r
    hosts: ["*"]
    rules: [ { match: { prefix: / }, upstream: echo } ]
listeners:
  - name: l
    address: 127.0.0.1:0
    route: r
`;

void describe("discovery server push tracing", { timeout: 60_000 }, () => {
  let otlp: OtlpReceiver | undefined;
  let cp: ControlPlane | undefined;
  let sc: Sidecar | undefined;
  after(async () => {
    await sc?.stop();
    await cp?.kill("SIGTERM");
    await otlp?.close();
  });

  void it("each type pushed to a sidecar becomes a span carrying node, type and version, ended by the ACK", async () => {
    otlp = await startOtlpReceiver();
    cp = await startControlPlane(MESH, {
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.httpPort}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      },
    });
    sc = await startSidecar(adsSidecarBootstrap(cp.xdsPort, { nodeId: "traced-1" }));
    const pushes = (): ReceivedSpan[] => otlp!.spans.filter((s) => s.name.startsWith("xds push "));
    const deadline = Date.now() + 20_000;
    while (new Set(pushes().map((s) => s.attributes["xds.type_url"])).size < 4 && Date.now() < deadline) {
      await otlp.waitForSpans(otlp.spans.length + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
    const spans = pushes();
    const nodes = (await cp.getJson("/nodes")) as { nodes: { id: string; types: Record<string, { version_acked: string }> }[] };
    const acked = nodes.nodes.find((n) => n.id === "traced-1")!.types;
    for (const [short, type] of [["cds", "Cluster"], ["eds", "ClusterLoadAssignment"], ["lds", "Listener"], ["rds", "RouteConfiguration"]] as const) {
      const span = spans.find((s) => s.name === `xds push ${type}`);
      assert.ok(span, `a span for the ${short} push (got ${spans.map((s) => s.name).join(", ")})`);
      assert.equal(span.attributes["pilotfish.node.id"], "traced-1");
      assert.equal(span.attributes["xds.stream"], "sotw");
      assert.equal(span.attributes["xds.outcome"], "ack");
      assert.equal(span.attributes["xds.version"], acked[short].version_acked, `${short}: the span names the version the node ACKed`);
      assert.equal(span.kind, "SPAN_KIND_PRODUCER");
      assert.equal(span.resource["service.name"], "pilotfish-control-plane");
    }
  });
});
