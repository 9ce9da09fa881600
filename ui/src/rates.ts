/**
 * Success rates over a sliding window, from the cumulative per-host counters of successive polls of a
 * sidecar's /clusters.
 */
import type { HostStatus } from "./api";

/** Window of the "recent" success rate. */
export const RATE_WINDOW_MS = 10_000;

interface Sample {
  readonly t: number;
  readonly success: number;
  readonly error: number;
}

export interface HostRates {
  /** Success ratio over the window (0..1), or null when no request finished in it. */
  readonly recent: number | null;
  /** Requests finished per second over the window. */
  readonly rps: number;
  /** Success ratio since the sidecar started, or null before any request. */
  readonly total: number | null;
}

export class RateTracker {
  private readonly samples = new Map<string, Sample[]>();

  /** Records a poll of one host (key: node/cluster/address) and returns its rates. */
  observe(key: string, h: HostStatus, now: number): HostRates {
    const s: Sample = { t: now, success: h.stats.rq_success, error: h.stats.rq_error };
    let list = this.samples.get(key);
    if (list === undefined) {
      list = [];
      this.samples.set(key, list);
    }
    // A restarted sidecar resets its counters: start over.
    const last = list.at(-1);
    if (last !== undefined && (s.success < last.success || s.error < last.error)) list.length = 0;
    list.push(s);
    while (list.length > 1 && now - list[0]!.t > RATE_WINDOW_MS) list.shift();
    const first = list[0]!;
    const dOk = s.success - first.success;
    const dErr = s.error - first.error;
    const dt = (s.t - first.t) / 1000;
    const all = s.success + s.error;
    return {
      recent: dOk + dErr > 0 ? dOk / (dOk + dErr) : null,
      rps: dt > 0 ? (dOk + dErr) / dt : 0,
      total: all > 0 ? s.success / all : null,
    };
  }
}
