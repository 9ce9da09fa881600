/**
 * Tracing configuration from the environment (OTEL_*): endpoint and protocol, queue limits, service
 * name, sampler override, and the HCM `tracing` decoding (spawn_upstream_span) and access_log errors.
 * Pure functions: no network.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBootstrap } from "../../src/config/load-bootstrap.js";
import { samplerFromEnv, tracingEnv } from "../../src/telemetry/tracing.js";
import { bootstrapObject } from "../helpers/bootstrap.js";

const NODE = { id: "n1", cluster: "svc" };

void describe("tracing from OTEL_* variables", () => {
  void it("defaults: OTLP/HTTP protobuf to localhost:4318/v1/traces, service name from node.cluster", () => {
    const e = tracingEnv({}, NODE);
    assert.equal(e.protocol, "http/protobuf");
    assert.equal(e.endpoint, "http://localhost:4318/v1/traces");
    assert.equal(e.serviceName, "svc");
    assert.equal(e.nodeId, "n1");
    assert.equal(e.maxQueueSize, 2048);
    assert.equal(e.maxExportBatchSize, 512);
    assert.equal(e.scheduledDelayMs, 5000);
    assert.equal(e.samplerOverride, undefined);
    assert.equal(e.disabled, false);
  });

  void it("endpoint and protocol: base URL gets /v1/traces for HTTP only; the traces-specific URL is used as is", () => {
    assert.equal(tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }, NODE).endpoint, "http://c:4318/v1/traces");
    const g = tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, NODE);
    assert.deepEqual([g.protocol, g.endpoint], ["grpc", "http://c:4317"]);
    assert.equal(tracingEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, NODE).endpoint, "http://localhost:4317");
    const t = tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:1", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:2/custom" }, NODE);
    assert.equal(t.endpoint, "http://b:2/custom");
    assert.equal(tracingEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" }, NODE).protocol, "grpc");
  });

  void it("service name: OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then node.cluster", () => {
    assert.equal(tracingEnv({ OTEL_SERVICE_NAME: "a", OTEL_RESOURCE_ATTRIBUTES: "service.name=b" }, NODE).serviceName, "a");
    const r = tracingEnv({ OTEL_RESOURCE_ATTRIBUTES: "service.name=b,deployment.environment=prod%20eu,bad" }, NODE);
    assert.equal(r.serviceName, "b");
    assert.equal(r.resourceAttributes["deployment.environment"], "prod eu");
  });

  void it("queue limits, disabled, and malformed numbers falling back to defaults", () => {
    const e = tracingEnv({ OTEL_BSP_MAX_QUEUE_SIZE: "64", OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_EXPORTER_OTLP_TIMEOUT: "oops", OTEL_SDK_DISABLED: "TRUE" }, NODE);
    assert.equal(e.maxQueueSize, 64);
    assert.equal(e.scheduledDelayMs, 100);
    assert.equal(e.exportTimeoutMs, 10_000);
    assert.equal(e.disabled, true);
  });

  void it("OTEL_TRACES_SAMPLER names the SDK samplers; unknown or unset leaves the HCM's", () => {
    assert.match(samplerFromEnv("always_off", undefined)!.toString(), /AlwaysOff/);
    assert.match(samplerFromEnv("always_on", undefined)!.toString(), /AlwaysOn/);
    assert.match(samplerFromEnv("traceidratio", "0.25")!.toString(), /TraceIdRatioBased\{0\.25\}/);
    assert.match(samplerFromEnv("parentbased_traceidratio", "0.5")!.toString(), /ParentBased.*TraceIdRatioBased\{0\.5\}/);
    assert.equal(samplerFromEnv("jaeger_remote", undefined), undefined);
    assert.equal(samplerFromEnv(undefined, undefined), undefined);
  });
});

void describe("HCM tracing and access_log in the bootstrap", () => {
  function hcmWith(extra: Record<string, unknown>): unknown {
    const doc = bootstrapObject({ listeners: [{ name: "l" }], clusters: [{ name: "echo", endpoints: [1234] }] });
    const sr = doc.static_resources as { listeners: { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }[] };
    Object.assign(sr.listeners[0].filter_chains[0].filters[0].typed_config, extra);
    return doc;
  }

  void it("spawn_upstream_span and the sampling percentages decode", () => {
    const r = decodeBootstrap(hcmWith({ tracing: { random_sampling: { value: 25 }, overall_sampling: { value: 10 }, spawn_upstream_span: true } }));
    assert.ok(r.ok);
    assert.deepEqual(r.value.listeners[0].hcm.tracing, {
      clientSamplingPercent: 100,
      randomSamplingPercent: 25,
      overallSamplingPercent: 10,
      spawnUpstreamSpan: true,
    });
  });

  void it("access loggers decode; a missing path and an unknown logger are errors naming the field", () => {
    const ok = decodeBootstrap(
      hcmWith({
        access_log: [
          { name: "f", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: "/var/log/a.log" } },
          { name: "o", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog" } },
          { name: "e", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog" } },
        ],
      }),
    );
    assert.ok(ok.ok);
    assert.deepEqual(ok.value.listeners[0].hcm.accessLogs, [
      { name: "f", sink: { kind: "file", path: "/var/log/a.log" } },
      { name: "o", sink: { kind: "stdout" } },
      { name: "e", sink: { kind: "stderr" } },
    ]);
    const bad = decodeBootstrap(
      hcmWith({
        access_log: [
          { name: "f", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog" } },
          { name: "r", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
          { name: "x", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: "/a", log_format: {} } },
        ],
      }),
    );
    assert.ok(!bad.ok);
    const paths = bad.errors.map((e) => e.path).join("\n");
    assert.match(paths, /access_log\[0\]\.typed_config\.path/);
    assert.match(paths, /access_log\[1\]\.typed_config\.@type/);
    assert.match(paths, /access_log\[2\]\.typed_config\.log_format/);
  });
});
