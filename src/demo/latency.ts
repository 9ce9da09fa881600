/**
 * Latency percentiles for the demo view: exact over one second's samples (a few hundred), and a
 * log-bucketed histogram (2 % resolution) for the whole run, so a long demo keeps constant memory.
 */

/** The q-quantile (0..1) of `samples` (sorted in place); NaN when empty. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  samples.sort((a, b) => a - b);
  const i = Math.min(samples.length - 1, Math.max(0, Math.ceil(q * samples.length) - 1));
  return samples[i];
}

const MIN_MS = 0.01;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets from 10 µs to about 100 s. */
const BUCKETS = Math.ceil(Math.log(100_000 / MIN_MS) / LOG_GROWTH) + 1;

/** A histogram of milliseconds with about 2 % relative error. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;

  record(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[i]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The q-quantile (0..1), as the upper bound of its bucket (never above the max seen); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** i);
    }
    return this.max;
  }
}

/** Formats milliseconds for the view: `0.84 ms`, `12.3 ms`, `245 ms`, `-` when unknown. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}
