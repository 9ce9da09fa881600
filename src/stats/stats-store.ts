/**
 * Counters and gauges with Envoy-style dotted names (`cluster.backend.upstream_rq_total`).
 *
 * The request path holds direct references to Counter objects and bumps a number field: no name
 * lookup, no label hashing, no allocation. Rendering to text or Prometheus happens only when the
 * admin server is asked.
 */

/** A monotonically increasing count. */
export class Counter {
  value = 0;
  constructor(readonly name: string) {}
  /** Adds one. */
  inc(): void {
    this.value++;
  }
}

/** A value that goes up and down. */
export class Gauge {
  value = 0;
  constructor(readonly name: string) {}
}

/** Envoy's default histogram bucket bounds (ms). */
export const DEFAULT_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/**
 * A fixed-bucket histogram (Envoy's default bounds, in ms): recording is a short scan and three
 * number bumps, no allocation. Rendered as a Prometheus histogram and as Envoy-style quantiles.
 */
export class Histogram {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly bounds: readonly number[] = DEFAULT_BUCKETS_MS,
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  /** Records one value. */
  record(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
  /** Upper bound of the bucket holding quantile q (0..1): Envoy-style approximate quantiles. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank && seen > 0) return i < this.bounds.length ? this.bounds[i] : Infinity;
    }
    return Infinity;
  }
}

/** Plain-data copy of a store (structured-clone safe, for IPC). */
export interface StatsSnapshot {
  /** [name, value] of each counter. */
  readonly counters: [string, number][];
  /** [name, value] of each gauge. */
  readonly gauges: [string, number][];
  /** [name, per-bucket counts, sum, count] of each histogram. */
  readonly histograms: [string, number[], number, number][];
}

/** Owns every stat of the process, keyed by full name. */
export class StatsStore {
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly refreshers: (() => void)[] = [];

  /**
   * Registers `update`, run before every read of the store (render, snapshot): for gauges that sample
   * something outside the request path (process memory) instead of being kept current by it.
   */
  onRead(update: () => void): void {
    this.refreshers.push(update);
  }

  private refresh(): void {
    for (const update of this.refreshers) update();
  }

  /** Returns the counter with this full name, creating it on first use. */
  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (c === undefined) {
      c = new Counter(name);
      this.counters.set(name, c);
    }
    return c;
  }

  /** Returns the gauge with this full name, creating it on first use. */
  gauge(name: string): Gauge {
    let g = this.gauges.get(name);
    if (g === undefined) {
      g = new Gauge(name);
      this.gauges.set(name, g);
    }
    return g;
  }

  /** Returns the histogram with this full name, creating it on first use. */
  histogram(name: string): Histogram {
    let h = this.histograms.get(name);
    if (h === undefined) {
      h = new Histogram(name);
      this.histograms.set(name, h);
    }
    return h;
  }

  /** Every stat's current value, for another process to sum (workers → primary's admin). */
  snapshot(): StatsSnapshot {
    this.refresh();
    return {
      counters: [...this.counters.values()].map((c) => [c.name, c.value]),
      gauges: [...this.gauges.values()].map((g) => [g.name, g.value]),
      histograms: [...this.histograms.values()].map((h) => [h.name, h.counts, h.sum, h.count]),
    };
  }

  /** Adds a snapshot's values to this store's (counters, gauges and histogram buckets are summed). */
  addSnapshot(s: StatsSnapshot, rename: (name: string) => string = (n) => n): void {
    for (const [n, v] of s.counters) this.counter(rename(n)).value += v;
    for (const [n, v] of s.gauges) this.gauge(rename(n)).value += v;
    for (const [n, counts, sum, count] of s.histograms) {
      const h = this.histogram(rename(n));
      for (let i = 0; i < h.counts.length && i < counts.length; i++) h.counts[i] += counts[i];
      h.sum += sum;
      h.count += count;
    }
  }

  /** Envoy's `/stats` text: `name: value`, sorted; `filter` is a regex on the name. */
  renderText(filter?: RegExp): string {
    this.refresh();
    const lines: string[] = [];
    for (const s of [...this.counters.values(), ...this.gauges.values()]) {
      if (filter && !filter.test(s.name)) continue;
      lines.push(`${s.name}: ${s.value}`);
    }
    // Histograms as Envoy prints them: approximate quantiles (bucket upper bounds), count and sum.
    for (const h of this.histograms.values()) {
      if (filter && !filter.test(h.name)) continue;
      const q = (x: number): string => (h.count === 0 ? "nan" : String(h.quantile(x)));
      lines.push(`${h.name}: P50(${q(0.5)}) P90(${q(0.9)}) P99(${q(0.99)}) P100(${q(1)}) count(${h.count}) sum(${h.sum.toFixed(3)})`);
    }
    return lines.sort().join("\n") + "\n";
  }

  /** JSON for `/stats?format=json`, as Envoy: `{stats: [{name, value}]}`. */
  renderJson(): { stats: { name: string; value: number }[] } {
    this.refresh();
    const stats = [...this.counters.values(), ...this.gauges.values()]
      .map((s) => ({ name: s.name, value: s.value }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { stats };
  }

  /**
   * Prometheus text exposition. Envoy's convention: `cluster.<name>.<stat>` becomes
   * `envoy_cluster_<stat>{envoy_cluster_name="<name>"}`, `http.<prefix>.<stat>` becomes
   * `envoy_http_<stat>{envoy_http_conn_manager_prefix="<prefix>"}`; other names are flattened.
   */
  renderPrometheus(): string {
    this.refresh();
    const families = new Map<string, { type: string; samples: string[] }>();
    const add = (name: string, value: number, type: string): void => {
      const { metric, labels } = promName(name);
      let fam = families.get(metric);
      if (!fam) {
        fam = { type, samples: [] };
        families.set(metric, fam);
      }
      fam.samples.push(`${metric}${labels} ${value}`);
    };
    for (const c of this.counters.values()) add(c.name, c.value, "counter");
    for (const g of this.gauges.values()) add(g.name, g.value, "gauge");
    for (const h of this.histograms.values()) {
      const { metric, labels } = promName(h.name);
      let fam = families.get(metric);
      if (!fam) {
        fam = { type: "histogram", samples: [] };
        families.set(metric, fam);
      }
      const inner = labels === "" ? "" : labels.slice(1, -1) + ",";
      let cum = 0;
      for (let i = 0; i < h.counts.length; i++) {
        cum += h.counts[i];
        const le = i < h.bounds.length ? String(h.bounds[i]) : "+Inf";
        fam.samples.push(`${metric}_bucket{${inner}le="${le}"} ${cum}`);
      }
      fam.samples.push(`${metric}_sum${labels} ${h.sum}`, `${metric}_count${labels} ${h.count}`);
    }
    const out: string[] = [];
    for (const [metric, fam] of [...families.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      out.push(`# TYPE ${metric} ${fam.type}`, ...fam.samples);
    }
    return out.join("\n") + "\n";
  }
}

const LABELLED: Record<string, string> = {
  cluster: "envoy_cluster_name",
  http: "envoy_http_conn_manager_prefix",
  listener: "envoy_listener_address",
};

function promName(name: string): { metric: string; labels: string } {
  const parts = name.split(".");
  const label = LABELLED[parts[0]];
  if (label !== undefined && parts.length >= 3) {
    const metric = `envoy_${parts[0]}_${sanitize(parts.slice(2).join("_"))}`;
    return { metric, labels: `{${label}="${parts[1].replace(/["\\\n]/g, "_")}"}` };
  }
  return { metric: `envoy_${sanitize(parts.join("_"))}`, labels: "" };
}

function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_:]/g, "_");
}
