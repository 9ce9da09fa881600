/**
 * Prometheus metrics of the discovery server. A registry per server instance (not prom-client's global
 * one) so tests can run several servers in one process.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { TYPE_SHORT, type TypeUrl } from "../xds/type-urls.js";
import type { NodeRegistry } from "./node-registry.js";

/** The per-type series of the counters and the histogram. */
interface TypeSeries {
  readonly pushes: ReturnType<Counter<"type">["labels"]>;
  readonly acks: ReturnType<Counter<"type">["labels"]>;
  readonly nacks: ReturnType<Counter<"type">["labels"]>;
  readonly latency: ReturnType<Histogram<"type">["labels"]>;
}

export class AdsMetrics {
  /** The registry GET /metrics serves. */
  readonly registry = new Registry();
  private readonly pushes: Counter<"type">;
  private readonly nacks: Counter<"type">;
  private readonly acks: Counter<"type">;
  private readonly latency: Histogram<"type">;
  private readonly meshReloads: Counter<"result">;
  private readonly series = new Map<TypeUrl, TypeSeries>();

  constructor(nodes: NodeRegistry) {
    const registers = [this.registry];
    // Collected on scrape so the gauge can never drift from the registry's truth.
    new Gauge({
      name: "pilotfish_xds_streams",
      help: "Open ADS streams by kind (sotw, delta)",
      labelNames: ["kind"],
      registers,
      collect() {
        this.set({ kind: "sotw" }, nodes.count("sotw"));
        this.set({ kind: "delta" }, nodes.count("delta"));
      },
    });
    this.pushes = new Counter({
      name: "pilotfish_xds_pushes_total",
      help: "Discovery responses sent, by type (lds, rds, cds, eds)",
      labelNames: ["type"],
      registers,
    });
    this.acks = new Counter({
      name: "pilotfish_xds_acks_total",
      help: "Discovery responses ACKed, by type",
      labelNames: ["type"],
      registers,
    });
    this.nacks = new Counter({
      name: "pilotfish_xds_nacks_total",
      help: "Discovery responses NACKed, by type",
      labelNames: ["type"],
      registers,
    });
    this.latency = new Histogram({
      name: "pilotfish_xds_push_latency_seconds",
      help: "From the mesh change that produced a snapshot to the node's ACK of it, by type",
      labelNames: ["type"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.meshReloads = new Counter({
      name: "pilotfish_mesh_reloads_total",
      help: "mesh.yaml loads by result (ok, invalid)",
      labelNames: ["result"],
      registers,
    });
  }

  /** A response of this type went out. */
  pushed(typeUrl: TypeUrl): void {
    this.byType(typeUrl).pushes.inc();
  }

  /** A response was ACKed; latencyMs is set when the response carried a mesh change. */
  acked(typeUrl: TypeUrl, latencyMs: number | undefined): void {
    const t = this.byType(typeUrl);
    t.acks.inc();
    if (latencyMs !== undefined) t.latency.observe(latencyMs / 1000);
  }

  /** A response was NACKed. */
  nacked(typeUrl: TypeUrl): void {
    this.byType(typeUrl).nacks.inc();
  }

  /** The labelled series of a type, resolved once (a push to thousands of streams counts per stream). */
  private byType(typeUrl: TypeUrl): TypeSeries {
    let t = this.series.get(typeUrl);
    if (t === undefined) {
      const labels = { type: TYPE_SHORT[typeUrl] };
      t = {
        pushes: this.pushes.labels(labels),
        acks: this.acks.labels(labels),
        nacks: this.nacks.labels(labels),
        latency: this.latency.labels(labels),
      };
      this.series.set(typeUrl, t);
    }
    return t;
  }

  /** A mesh.yaml load finished. */
  meshReload(ok: boolean): void {
    this.meshReloads.inc({ result: ok ? "ok" : "invalid" });
  }
}
