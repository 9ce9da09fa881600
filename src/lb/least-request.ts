/**
 * Least request, as Envoy: with equal weights, sample `choice_count` hosts with replacement and take
 * the one with the fewest active requests; with unequal weights, weighted random choice by
 * `weight / (active + 1)^bias` (bias 1 by default). Reads Host.activeRequests live, so the picker
 * itself never changes between membership updates.
 */
import type { Clock, Random } from "../common/clock.js";
import type { LeastRequestConfig } from "../config/model.js";
import type { Host } from "../upstream/host.js";
import { isExcluded, type Picker } from "./load-balancer.js";

export class LeastRequestPicker implements Picker {
  private readonly equalWeights: boolean;
  private readonly weights: Float64Array;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly config: LeastRequestConfig,
    private readonly random: Random,
    private readonly clock?: Clock,
  ) {
    this.equalWeights = hosts.every((h) => h.weight === hosts[0].weight);
    this.weights = new Float64Array(hosts.length);
  }

  pick(exclude: readonly Host[] | undefined): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return this.hosts[0];
    return this.equalWeights ? this.pickP2c(exclude) : this.pickWeighted(exclude);
  }

  private pickP2c(exclude: readonly Host[] | undefined): Host {
    const n = this.hosts.length;
    let best: Host | undefined;
    for (let i = 0; i < this.config.choiceCount; i++) {
      const h = this.hosts[Math.floor(this.random.next() * n)];
      if (isExcluded(h, exclude)) continue;
      if (best === undefined || h.activeRequests < best.activeRequests) best = h;
    }
    if (best !== undefined) return best;
    // Every sample was excluded: fall back to a scan for any other host.
    for (const h of this.hosts) if (!isExcluded(h, exclude)) return h;
    return this.hosts[Math.floor(this.random.next() * n)];
  }

  private pickWeighted(exclude: readonly Host[] | undefined): Host {
    const bias = this.config.activeRequestBias;
    let total = 0;
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[i];
      const w = isExcluded(h, exclude) ? 0 : bias === 0 ? h.weight : h.weight / Math.pow(h.activeRequests + 1, bias);
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
}
