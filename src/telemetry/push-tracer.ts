/**
 * Traces of the discovery server: one span per xDS push, from the response being written until the node
 * ACKs or NACKs it (or the stream ends), carrying node, type and version. On only when an OTLP endpoint
 * is configured (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT): a server has no HCM `tracing` to opt in.
 */
import { SpanKind, SpanStatusCode, type Span, type Tracer } from "@opentelemetry/api";
import { StatsStore } from "../stats/stats-store.js";
import { TracingPipeline, tracingEnv } from "./tracing.js";

/** One push in flight. */
export interface PushSpan {
  /** Ends the span: ACKed, NACKed (with the error), or abandoned (stream closed, or superseded by the next push). */
  end(outcome: "ack" | "nack" | "closed" | "superseded", error?: string): void;
}

/** Who received a push. */
export interface PushTarget {
  readonly nodeId: string;
  readonly nodeCluster: string;
  /** sotw or delta. */
  readonly stream: string;
}

export class PushTracer {
  private readonly tracer: Tracer;

  private constructor(private readonly pipeline: TracingPipeline) {
    this.tracer = pipeline.tracerFor({ clientSamplingPercent: 100, randomSamplingPercent: 100, overallSamplingPercent: 100 });
  }

  /** A tracer when the environment names an OTLP endpoint (and the SDK is not disabled); else undefined. */
  static fromEnv(env: NodeJS.ProcessEnv, controlPlaneId: string): PushTracer | undefined {
    if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
    const te = tracingEnv(env, { id: controlPlaneId, cluster: "pilotfish-control-plane" });
    if (te.disabled) return undefined;
    return new PushTracer(new TracingPipeline(te, new StatsStore()));
  }

  /** Starts the span of a push of `version` of `typeUrl` to a node. */
  start(target: PushTarget, typeUrl: string, version: string): PushSpan {
    const short = typeUrl.slice(typeUrl.lastIndexOf(".") + 1);
    const span: Span = this.tracer.startSpan(`xds push ${short}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        "pilotfish.node.id": target.nodeId,
        "pilotfish.node.cluster": target.nodeCluster,
        "xds.type_url": typeUrl,
        "xds.version": version,
        "xds.stream": target.stream,
      },
    });
    let ended = false;
    return {
      end(outcome, error) {
        if (ended) return;
        ended = true;
        span.setAttribute("xds.outcome", outcome);
        if (outcome === "nack") span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? "NACK" });
        span.end();
      },
    };
  }

  /** Exports what is queued and stops (bounded in time). */
  async shutdown(): Promise<void> {
    await this.pipeline.shutdown();
  }
}
