/**
 * Load balancing: a policy turns a host list into an immutable Picker. The cluster rebuilds the
 * picker when membership or health changes; the request path only calls pick().
 */
import type { Clock, Random } from "../common/clock.js";
import type { LbPolicy, LeastRequestConfig } from "../config/model.js";
import type { Host } from "../upstream/host.js";
import { LeastRequestPicker } from "./least-request.js";
import { RandomPicker } from "./random.js";
import { RoundRobinPicker } from "./round-robin.js";

/** Chooses a host for one request attempt. */
export interface Picker {
  /**
   * Returns a host, avoiding `exclude` (hosts already tried by this request) when another exists;
   * undefined when there is no host at all.
   */
  pick(exclude: readonly Host[] | undefined): Host | undefined;
}

/** Builds a picker for the policy over `hosts` (already filtered for availability by the caller). */
export function createPicker(policy: LbPolicy, hosts: readonly Host[], lr: LeastRequestConfig, random: Random, clock?: Clock): Picker {
  switch (policy) {
    case "ROUND_ROBIN":
      return new RoundRobinPicker(hosts);
    case "RANDOM":
      return new RandomPicker(hosts, random);
    case "LEAST_REQUEST":
      return new LeastRequestPicker(hosts, lr, random, clock);
  }
}

/** Whether `h` is in the exclusion list (tiny lists: a retry excludes at most a handful). */
export function isExcluded(h: Host, exclude: readonly Host[] | undefined): boolean {
  return exclude !== undefined && exclude.includes(h);
}
