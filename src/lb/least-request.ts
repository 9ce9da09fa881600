/**
 * Least request, as Envoy: with equal weights, sample `choice_count` hosts with replacement and take
 * the one with the least load; with unequal weights (or a host in slow start), weighted random choice
 * by `weight / (load + 1)^bias` (bias 1 by default). Reads the hosts' live counts, so the picker
 * itself never changes between membership updates.
 *
 * Load is Host.load(): active requests plus a decaying failure penalty (one request-equivalent per
 * failed attempt, halving every second). Without it, a host that fails fast (429/RESOURCE_EXHAUSTED
 * answered at once) always shows the fewest active requests and wins most picks; while any host is
 * penalized the weighted form is used even with equal weights; see docs/balancing.md.
 *
 * Slow start (Envoy's SlowStartConfig): a host added after the cluster's first host set has its weight
 * scaled by max(min_weight_percent, (elapsed / window)^(1 / aggression)) until the window has passed.
 */
import { systemClock, type Clock, type Random } from "../common/clock.js";
import type { LeastRequestConfig } from "../config/model.js";
import { Host } from "../upstream/host.js";
import { isExcluded, type Picker } from "./load-balancer.js";

export class LeastRequestPicker implements Picker {
  private readonly equalWeights: boolean;
  private readonly weights: Float64Array;
  /** Until when (clock ms) some host is still in its slow-start window; -Infinity when none is. */
  private readonly slowStartUntil: number;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly config: LeastRequestConfig,
    private readonly random: Random,
    private readonly clock: Clock = systemClock,
  ) {
    this.equalWeights = hosts.every((h) => h.weight === hosts[0].weight);
    this.weights = new Float64Array(hosts.length);
    let until = Number.NEGATIVE_INFINITY;
    const ss = config.slowStart;
    if (ss !== undefined) for (const h of hosts) if (h.addedAt !== undefined) until = Math.max(until, h.addedAt + ss.windowMs);
    this.slowStartUntil = until;
  }

  pick(exclude: readonly Host[] | undefined): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return this.hosts[0];
    const now = this.clock.now();
    if (now < this.slowStartUntil) return this.pickWeighted(exclude, now, true);
    return this.equalWeights && !this.anyPenalized(now) ? this.pickP2c(exclude, now) : this.pickWeighted(exclude, now, false);
  }

  /**
   * P2C with replacement gives every host at least 1/n² of the picks however loaded it looks (Envoy
   * #14859); for a host failing fast that floor is too much, so while any host carries a failure
   * penalty the weighted form (which has no floor) decides.
   */
  private anyPenalized(now: number): boolean {
    if (now >= Host.penaltiesUntil) return false;
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[i];
      if (h.penalized && h.failurePenalty(now) > 0) return true;
    }
    return false;
  }

  private pickP2c(exclude: readonly Host[] | undefined, now: number): Host {
    const n = this.hosts.length;
    let best: Host | undefined;
    let bestLoad = 0;
    for (let i = 0; i < this.config.choiceCount; i++) {
      const h = this.hosts[Math.floor(this.random.next() * n)];
      if (isExcluded(h, exclude)) continue;
      const load = h.load(now);
      if (best === undefined || load < bestLoad) {
        best = h;
        bestLoad = load;
      }
    }
    if (best !== undefined) return best;
    // Every sample was excluded: fall back to a scan for any other host.
    for (const h of this.hosts) if (!isExcluded(h, exclude)) return h;
    return this.hosts[Math.floor(this.random.next() * n)];
  }

  private pickWeighted(exclude: readonly Host[] | undefined, now: number, slowStart: boolean): Host {
    const bias = this.config.activeRequestBias;
    let total = 0;
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[i];
      let w = 0;
      if (!isExcluded(h, exclude)) {
        w = bias === 0 ? h.weight : h.weight / Math.pow(h.load(now) + 1, bias);
        if (slowStart) w *= this.slowStartFactor(h, now);
      }
      this.weights[i] = w;
      total += w;
    }
    if (total === 0) return this.hosts[Math.floor(this.random.next() * this.hosts.length)];
    let r = this.random.next() * total;
    for (let i = 0; i < this.hosts.length; i++) {
      r -= this.weights[i];
      if (r < 0) return this.hosts[i];
    }
    return this.hosts[this.hosts.length - 1];
  }

  /** Envoy's slow-start weight multiplier for `h` at `now` (1 outside the window). */
  slowStartFactor(h: Host, now: number): number {
    const ss = this.config.slowStart;
    if (ss === undefined || h.addedAt === undefined) return 1;
    const elapsed = now - h.addedAt;
    if (elapsed >= ss.windowMs) return 1;
    const timeFactor = Math.max(0, elapsed) / ss.windowMs;
    return Math.max(ss.minWeightPercent / 100, Math.pow(timeFactor, 1 / ss.aggression));
  }
}
