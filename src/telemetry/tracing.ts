/**
 * OpenTelemetry tracing for the request path. The only module that imports the OTel SDK; the router
 * sees a `RequestTrace` (a handful of calls) and nothing else, and holds none at all when its
 * connection manager does not trace.
 *
 * Spans follow OpenTelemetry's HTTP and RPC semantic conventions, plus Envoy's mesh attributes
 * (upstream_cluster, upstream_address, response_flags, retry.count, node_id, guid:x-request-id).
 * Propagation: W3C traceparent/tracestate extracted and injected; B3 (multi or single header) read
 * when there is no traceparent, and then injected back in the same encoding besides W3C.
 * Export: one BatchSpanProcessor (bounded queue) in front of an OTLP exporter (gRPC or
 * HTTP/protobuf); queue-full drops and failed exports are counted in the stats store.
 */
import { upstreamPeerPrincipal } from "../security/upstream-peer.js";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpGrpcExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as OtlpProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { B3InjectEncoding, B3Propagator } from "@opentelemetry/propagator-b3";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import type { TracingConfig } from "../config/model.js";
import type { Counter, StatsStore } from "../stats/stats-store.js";
import type { RequestRecord } from "./request-record.js";

/** Tracing settings that come from the environment (OTEL_*) and the node. */
export interface TracingEnv {
  readonly serviceName: string;
  readonly nodeId: string;
  readonly resourceAttributes: Attributes;
  /** "grpc" or "http/protobuf". */
  readonly protocol: "grpc" | "http/protobuf";
  /** Full exporter URL (for HTTP, including /v1/traces). */
  readonly endpoint: string;
  readonly exportTimeoutMs: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
  /** OTEL_TRACES_SAMPLER (+ _ARG) when set: overrides the HCM's sampling. */
  readonly samplerOverride: Sampler | undefined;
  /** OTEL_SDK_DISABLED=true. */
  readonly disabled: boolean;
}

function num(v: string | undefined, dflt: number): number {
  const n = v === undefined || v === "" ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : dflt;
}

/** Parses OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG as the SDK spec describes; undefined when unset. */
export function samplerFromEnv(name: string | undefined, arg: string | undefined): Sampler | undefined {
  const ratio = Math.min(1, num(arg, 1));
  switch ((name ?? "").trim().toLowerCase()) {
    case "":
      return undefined;
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return undefined;
  }
}

/** OTEL_RESOURCE_ATTRIBUTES: `k=v,k2=v2`, values percent-decoded. */
function parseResourceAttributes(s: string | undefined): Attributes {
  const out: Attributes = {};
  for (const pair of (s ?? "").split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    try {
      out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // a malformed value is skipped, as the SDKs do
    }
  }
  return out;
}

/** Reads the standard OTEL_* variables (traces only). */
export function tracingEnv(env: NodeJS.ProcessEnv, node: { id: string; cluster: string }): TracingEnv {
  const rawProtocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf").trim();
  const protocol = rawProtocol === "grpc" ? "grpc" : "http/protobuf";
  let endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (endpoint === undefined || endpoint === "") {
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (protocol === "grpc") endpoint = base || "http://localhost:4317";
    else endpoint = base ? `${base.replace(/\/+$/, "")}/v1/traces` : "http://localhost:4318/v1/traces";
  }
  const resourceAttributes = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
  const serviceName =
    env.OTEL_SERVICE_NAME || (resourceAttributes["service.name"] as string | undefined) || node.cluster || "pilotfish";
  return {
    serviceName,
    nodeId: node.id,
    resourceAttributes,
    protocol,
    endpoint,
    exportTimeoutMs: num(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT, 10_000),
    maxQueueSize: Math.max(1, num(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048)),
    maxExportBatchSize: Math.max(1, num(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512)),
    scheduledDelayMs: num(env.OTEL_BSP_SCHEDULE_DELAY, 5000),
    samplerOverride: samplerFromEnv(env.OTEL_TRACES_SAMPLER, env.OTEL_TRACES_SAMPLER_ARG),
    disabled: (env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true",
  };
}

/** `tracing.opentelemetry.*` counters. */
interface ExportStats {
  spansSent: Counter;
  spansDropped: Counter;
  exportFailed: Counter;
}

/** Counts what the exporter sent and lost; tells the processor how many spans are still queued. */
class CountingExporter implements SpanExporter {
  /** Spans handed to export() so far (sent, failed or in flight). */
  handedOut = 0;
  constructor(
    private readonly inner: SpanExporter,
    private readonly stats: ExportStats,
  ) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    const n = spans.length;
    this.handedOut += n;
    this.inner.export(spans, (r) => {
      if (r.code === ExportResultCode.SUCCESS) this.stats.spansSent.value += n;
      else {
        this.stats.exportFailed.inc();
        this.stats.spansDropped.value += n;
      }
      done(r);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * In front of the BatchSpanProcessor: mirrors its queue length (spans accepted minus spans handed to
 * the exporter) to count the spans it drops when the queue is full (the SDK keeps that count private).
 */
class CountingProcessor implements SpanProcessor {
  private accepted = 0;
  constructor(
    private readonly inner: BatchSpanProcessor,
    private readonly exporter: CountingExporter,
    private readonly maxQueueSize: number,
    private readonly stats: ExportStats,
  ) {}
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) {
      if (this.accepted - this.exporter.handedOut >= this.maxQueueSize) this.stats.spansDropped.inc();
      else this.accepted++;
    }
    this.inner.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

const getter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => c[k],
};
const setter: TextMapSetter<OutgoingHttpHeaders> = {
  set: (c, k, v) => {
    c[k] = v;
  },
};
const B3_HEADERS = ["b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"];

/** The process's tracing pipeline: one exporter and processor, one tracer per sampling setting. */
export class TracingPipeline {
  private readonly providers = new Map<string, TracerProvider>();
  private readonly processor: CountingProcessor;
  private readonly resource;
  readonly w3c = new W3CTraceContextPropagator();
  readonly b3Multi = new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER });
  readonly b3Single = new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER });

  constructor(
    readonly env: TracingEnv,
    stats: StatsStore,
  ) {
    const s: ExportStats = {
      spansSent: stats.counter("tracing.opentelemetry.spans_sent"),
      spansDropped: stats.counter("tracing.opentelemetry.spans_dropped"),
      exportFailed: stats.counter("tracing.opentelemetry.export_failed"),
    };
    const raw: SpanExporter =
      env.protocol === "grpc"
        ? new OtlpGrpcExporter({ url: env.endpoint, timeoutMillis: env.exportTimeoutMs })
        : new OtlpProtoExporter({ url: env.endpoint, timeoutMillis: env.exportTimeoutMs });
    const exporter = new CountingExporter(raw, s);
    const bsp = new BatchSpanProcessor({
      exporter,
      maxQueueSize: env.maxQueueSize,
      maxExportBatchSize: Math.min(env.maxExportBatchSize, env.maxQueueSize),
      scheduledDelayMillis: env.scheduledDelayMs,
      exportTimeoutMillis: env.exportTimeoutMs + 1000,
    });
    this.processor = new CountingProcessor(bsp, exporter, env.maxQueueSize, s);
    this.resource = resourceFromAttributes({
      ...env.resourceAttributes,
      "service.name": env.serviceName,
      "service.instance.id": env.nodeId,
    });
  }

  /** The tracer for an HCM's sampling settings (parent-based ratio unless OTEL_TRACES_SAMPLER says otherwise). */
  tracerFor(cfg: TracingConfig): Tracer {
    const ratio = Math.min(cfg.randomSamplingPercent, cfg.overallSamplingPercent) / 100;
    const key = this.env.samplerOverride !== undefined ? "env" : String(ratio);
    let p = this.providers.get(key);
    if (p === undefined) {
      const sampler = this.env.samplerOverride ?? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
      p = new TracerProvider({ sampler, resource: this.resource, spanProcessors: [this.processor] });
      this.providers.set(key, p);
    }
    return p.getTracer("pilotfish");
  }

  /** Exports what is queued, bounded in time. */
  async flush(timeoutMs = 5000): Promise<void> {
    await Promise.race([this.processor.forceFlush().catch(() => undefined), delay(timeoutMs)]);
  }

  /** Flushes and stops the exporter, bounded in time. */
  async shutdown(timeoutMs = 5000): Promise<void> {
    await Promise.race([this.processor.shutdown().catch(() => undefined), delay(timeoutMs)]);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Per-HCM tracer: makes one RequestTrace per request. */
export class HttpTracer {
  private readonly tracer: Tracer;
  readonly spawnUpstreamSpan: boolean;

  constructor(
    private readonly pipeline: TracingPipeline,
    cfg: TracingConfig,
  ) {
    this.tracer = pipeline.tracerFor(cfg);
    this.spawnUpstreamSpan = cfg.spawnUpstreamSpan === true;
  }

  /** Starts the request's span, child of the trace context the request carried (W3C, else B3). */
  start(headers: IncomingHttpHeaders, isGrpc: boolean, peer: string | undefined, principal?: string): RequestTrace {
    const p = this.pipeline;
    let parent: Context = ROOT_CONTEXT;
    let b3: B3Propagator | undefined;
    if (headers.traceparent !== undefined) {
      parent = p.w3c.extract(ROOT_CONTEXT, headers, getter);
    } else if (headers["x-b3-traceid"] !== undefined || headers.b3 !== undefined) {
      parent = p.b3Multi.extract(ROOT_CONTEXT, headers, getter);
      if (trace.getSpanContext(parent) !== undefined) b3 = headers.b3 !== undefined ? p.b3Single : p.b3Multi;
    }
    const path = (headers[":path"]) ?? "/";
    const method = (headers[":method"]) ?? "GET";
    // What every span of the request carries; the SERVER span adds the downstream side, each CLIENT
    // span its upstream host (attribute count is most of a span's cost: keep them few).
    let name = method;
    let common: Attributes;
    if (isGrpc) {
      const slash = path.lastIndexOf("/");
      const service = path.slice(1, slash > 0 ? slash : undefined);
      const rpcMethod = slash > 0 ? path.slice(slash + 1) : "";
      name = `${service}/${rpcMethod}`;
      common = { "http.request.method": method, "url.path": path, "rpc.system": "grpc", "rpc.service": service, "rpc.method": rpcMethod };
    } else {
      common = { "http.request.method": method, "url.path": path };
    }
    const attrs: Attributes = { ...common, "node_id": p.env.nodeId };
    const authority = (headers[":authority"]) ?? headers.host;
    if (authority !== undefined) attrs["server.address"] = hostOf(authority);
    if (peer !== undefined) attrs["network.peer.address"] = peer;
    // The mTLS workload identity (SPIFFE ID) of the downstream, as policies see it.
    if (principal !== undefined) attrs["pilotfish.peer.principal"] = principal;
    const ua = headers["user-agent"];
    if (ua !== undefined) attrs["user_agent.original"] = ua;
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: attrs }, parent);
    return new RequestTrace(this, span, name, common, b3);
  }

  /** @internal */
  startClient(name: string, attrs: Attributes, parent: Span): Span {
    return this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: attrs }, trace.setSpan(ROOT_CONTEXT, parent));
  }

  /** @internal */
  inject(span: Span, headers: OutgoingHttpHeaders, b3: B3Propagator | undefined): void {
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    this.pipeline.w3c.inject(ctx, headers, setter);
    if (b3 !== undefined) {
      for (const h of B3_HEADERS) delete headers[h];
      b3.inject(ctx, headers, setter);
    }
  }
}

function hostOf(authority: string): string {
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    return end > 0 ? authority.slice(1, end) : authority;
  }
  const colon = authority.lastIndexOf(":");
  return colon > 0 ? authority.slice(0, colon) : authority;
}

/** One request's spans. */
export class RequestTrace {
  private client: Span | undefined;
  private attempts = 0;
  private attemptStatus = 0;
  private attemptGrpc: number | undefined;

  constructor(
    private readonly tracer: HttpTracer,
    private readonly span: Span,
    private readonly name: string,
    private readonly requestAttrs: Attributes,
    private readonly b3: B3Propagator | undefined,
  ) {}

  /** The trace id (32 hex), for the access log. */
  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  /** An upstream attempt begins: opens its CLIENT span (when spawning) and injects the context into `headers`. */
  startAttempt(headers: OutgoingHttpHeaders, cluster: string, hostAddress: string, hostPort: number): void {
    const n = this.attempts++;
    this.attemptStatus = 0;
    this.attemptGrpc = undefined;
    if (!this.tracer.spawnUpstreamSpan || !this.span.isRecording()) {
      this.tracer.inject(this.span, headers, this.b3);
      return;
    }
    const attrs: Attributes = {
      ...this.requestAttrs,
      "server.address": hostAddress,
      "server.port": hostPort,
      "network.peer.address": hostAddress,
      "upstream_cluster": cluster,
      "upstream_address": `${hostAddress}:${hostPort}`,
    };
    if (n > 0) attrs["http.request.resend_count"] = n;
    this.client = this.tracer.startClient(this.name, attrs, this.span);
    this.tracer.inject(this.client, headers, this.b3);
  }

  /** Upstream response headers of the current attempt; `conn` is its connection (for the peer's identity). */
  upstreamResponse(status: number, grpcStatus: number | undefined, conn?: object): void {
    this.attemptStatus = status;
    this.attemptGrpc = grpcStatus;
    if (this.client !== undefined && conn !== undefined) {
      const principal = upstreamPeerPrincipal(conn);
      if (principal !== undefined) this.client.setAttribute("pilotfish.upstream.peer.principal", principal);
    }
  }

  /** The current attempt is over; `last` is the request's record when this attempt's outcome is the request's. */
  endAttempt(success: boolean, last: RequestRecord | undefined): void {
    const c = this.client;
    if (c === undefined) return;
    this.client = undefined;
    const status = this.attemptStatus || (last?.responseStatus ?? 0);
    const grpc = last?.grpcStatus ?? this.attemptGrpc;
    if (status > 0) c.setAttribute("http.response.status_code", status);
    if (grpc !== undefined) c.setAttribute("rpc.grpc.status_code", grpc);
    if (!success || status >= 500 || (grpc !== undefined && grpc !== 0)) {
      c.setStatus({ code: SpanStatusCode.ERROR, message: last?.flag || undefined });
      c.setAttribute("error.type", grpc !== undefined && grpc !== 0 ? String(grpc) : status > 0 ? String(status) : "reset");
    }
    c.end();
  }

  /** The request is settled: ends the request's span with the outcome. */
  finish(r: RequestRecord): void {
    const s = this.span;
    if (!s.isRecording()) return;
    const attrs: Attributes = {
      "response_flags": r.flag === "" ? "-" : r.flag,
      "retry.count": r.retryCount,
    };
    if (r.responseStatus > 0) attrs["http.response.status_code"] = r.responseStatus;
    if (r.grpcStatus !== undefined) attrs["rpc.grpc.status_code"] = r.grpcStatus;
    if (r.upstreamCluster !== undefined) attrs["upstream_cluster"] = r.upstreamCluster;
    if (r.upstreamHost !== undefined) attrs["upstream_address"] = r.upstreamHost;
    if (r.requestId !== undefined) attrs["guid:x-request-id"] = r.requestId;
    s.setAttributes(attrs);
    const grpcError = r.grpcStatus !== undefined && r.grpcStatus !== 0;
    if (r.responseStatus >= 500 || r.responseStatus === 0 || grpcError) {
      s.setStatus({ code: SpanStatusCode.ERROR, message: r.flag || undefined });
      s.setAttribute("error.type", grpcError ? String(r.grpcStatus) : r.responseStatus > 0 ? String(r.responseStatus) : (r.flag || "reset"));
    }
    s.end();
  }
}
