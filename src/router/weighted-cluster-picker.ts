/**
 * Chooses a route's upstream cluster among `weighted_clusters` in proportion to their weights.
 *
 * Cumulative weights are computed once; a pick is one random draw and a scan of a few numbers (routes
 * have a handful of clusters, so a linear scan beats a binary search). A single cluster never draws,
 * so routes without traffic splitting do not consume the Random, which keeps seeded tests of other
 * components stable when a split is added elsewhere.
 */
import type { FieldError } from "../common/errors.js";
import type { Random } from "../common/clock.js";
import type { WeightedClusterConfig } from "../config/model.js";

/** A compiled cluster choice. */
export class WeightedClusterPicker {
  /** Cluster names, in config order, clusters of weight 0 left out. */
  readonly names: readonly string[];
  /** cumulative[i] = sum of the weights of names[0..i]. */
  private readonly cumulative: Float64Array;
  /** Sum of all weights. */
  readonly totalWeight: number;

  /**
   * Compiles the list; an empty list or one whose weights sum to zero is recorded in `errors` (Envoy
   * rejects both) and yields a picker that returns "".
   */
  constructor(clusters: readonly WeightedClusterConfig[], fieldPath: string, errors: FieldError[]) {
    const names: string[] = [];
    const weights: number[] = [];
    for (const c of clusters) {
      // Weight 0 is legal and common while shifting traffic: the cluster stays named but gets nothing.
      if (!(c.weight > 0)) continue;
      names.push(c.name);
      weights.push(c.weight);
    }
    if (names.length === 0) {
      errors.push({
        path: fieldPath,
        message: clusters.length === 0 ? "a route needs at least one cluster" : "cluster weights sum to 0",
      });
    }
    this.names = Object.freeze(names);
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      sum += weights[i];
      this.cumulative[i] = sum;
    }
    this.totalWeight = sum;
    Object.freeze(this);
  }

  /** The cluster for one request. */
  pick(random: Random): string {
    const names = this.names;
    if (names.length <= 1) return names.length === 1 ? names[0] : "";
    const x = random.next() * this.totalWeight;
    const cumulative = this.cumulative;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      if (x < cumulative[i]) return names[i];
    }
    return names[last];
  }
}
