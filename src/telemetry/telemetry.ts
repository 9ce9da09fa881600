/**
 * The process's telemetry: the tracing pipeline (created on first use, only when some connection
 * manager traces) and the access log sinks (one per distinct destination). The sidecar installs one
 * at start; connection managers ask it for their per-listener tracer and access logger, and get
 * undefined when their config asks for neither, so the request path then pays one field check.
 */
import type { AccessLogConfig, HttpConnectionManagerConfig, TracingConfig } from "../config/model.js";
import type { StatsStore } from "../stats/stats-store.js";
import { AccessLogger, openSink, type AccessLogSink } from "./access-log.js";
import type { RequestRecord } from "./request-record.js";
import { tracingModule as tracing } from "../common/lazy-require.js";
import type { HttpTracer, RequestTrace, TracingPipeline } from "./tracing.js";

export type { RequestTrace } from "./tracing.js";
export type { RequestRecord } from "./request-record.js";

/** Per connection manager: what to do for each request. Undefined when nothing is configured. */
export interface HcmTelemetry {
  readonly tracer: HttpTracer | undefined;
  readonly accessLog: AccessLogger | undefined;
}

/** Ends a request's telemetry: its span and its access log line. */
export function finishRequest(t: HcmTelemetry, trace: RequestTrace | undefined, r: RequestRecord): void {
  trace?.finish(r);
  t.accessLog?.log(r, trace?.traceId);
}

/**
 * Tracing of a connection manager without `tracing` when PILOTFISH_TRACE_ALL_LISTENERS=true: 100%
 * (OTEL_TRACES_SAMPLER may lower it) with a CLIENT span per attempt, so each sidecar is its own hop.
 */
const TRACE_ALL_DEFAULT: TracingConfig = {
  clientSamplingPercent: 100,
  randomSamplingPercent: 100,
  overallSamplingPercent: 100,
  spawnUpstreamSpan: true,
};

/** Telemetry of one process. */
export class Telemetry {
  private pipeline: TracingPipeline | undefined;
  private readonly sinks = new Map<string, AccessLogSink>();

  constructor(
    private readonly node: { id: string; cluster: string },
    private readonly stats: StatsStore,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** What a connection manager with this config does per request; undefined for nothing. */
  forHcm(cfg: HttpConnectionManagerConfig): HcmTelemetry | undefined {
    const tracing = cfg.tracing ?? (this.traceAll() ? TRACE_ALL_DEFAULT : undefined);
    const tracer = tracing !== undefined ? this.tracer(tracing) : undefined;
    const logs = cfg.accessLogs ?? [];
    const sinks = logs.map((l) => this.sink(l)).filter((x): x is AccessLogSink => x !== undefined);
    const accessLog = sinks.length > 0 ? new AccessLogger(sinks) : undefined;
    if (tracer === undefined && accessLog === undefined) return undefined;
    return { tracer, accessLog };
  }

  /** PILOTFISH_TRACE_ALL_LISTENERS=true: trace connection managers whose config has no `tracing` (e.g. from xDS). */
  private traceAll(): boolean {
    return (this.env.PILOTFISH_TRACE_ALL_LISTENERS ?? "").trim().toLowerCase() === "true";
  }

  private tracer(cfg: TracingConfig): HttpTracer | undefined {
    if (this.pipeline === undefined) {
      const t = tracing();
      const env = t.tracingEnv(this.env, this.node);
      if (env.disabled) return undefined;
      this.pipeline = new t.TracingPipeline(env, this.stats);
    }
    return new (tracing().HttpTracer)(this.pipeline, cfg);
  }

  private sink(cfg: AccessLogConfig): AccessLogSink | undefined {
    const key = cfg.sink.kind === "file" ? `file:${cfg.sink.path}` : cfg.sink.kind;
    let s = this.sinks.get(key);
    if (s === undefined || s.dead) {
      s = openSink(cfg);
      if (s === undefined) return undefined;
      this.sinks.set(key, s);
    }
    return s;
  }

  /** Exports queued spans now (bounded). */
  async flush(): Promise<void> {
    for (const s of this.sinks.values()) s.flush();
    await this.pipeline?.flush();
  }

  /** Flushes everything and stops exporting (bounded in time). */
  async shutdown(): Promise<void> {
    for (const s of this.sinks.values()) s.close();
    await this.pipeline?.shutdown();
  }
}

let installed: Telemetry | undefined;

/** Makes `t` the process's telemetry (the sidecar does this once). */
export function installTelemetry(t: Telemetry): void {
  installed = t;
}

/** The process's telemetry, if a sidecar installed one. */
export function processTelemetry(): Telemetry | undefined {
  return installed;
}
