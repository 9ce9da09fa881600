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

/** Owns every stat of the process, keyed by full name. */
export class StatsStore {
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();

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

  /** Envoy's `/stats` text: `name: value`, sorted; `filter` is a regex on the name. */
  renderText(filter?: RegExp): string {
    const lines: string[] = [];
    for (const s of [...this.counters.values(), ...this.gauges.values()]) {
      if (filter && !filter.test(s.name)) continue;
      lines.push(`${s.name}: ${s.value}`);
    }
    return lines.sort().join("\n") + "\n";
  }

  /** JSON for `/stats?format=json`, as Envoy: `{stats: [{name, value}]}`. */
  renderJson(): { stats: { name: string; value: number }[] } {
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
