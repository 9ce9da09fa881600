/**
 * Builds a connection manager's HTTP filters from its config: every filter before the router, in
 * order. The router is not an HttpFilter here: RouterCall is the router and runs after the chain.
 */
import { systemClock, type Clock, type Random } from "../common/clock.js";
import type { HttpFilterConfig } from "../config/model.js";
import type { StatsStore } from "../stats/stats-store.js";
import type { HttpFilter } from "./http-filter.js";
import { LocalRateLimitFilter } from "./local-ratelimit/local-ratelimit-filter.js";
import { RbacFilter } from "./rbac/rbac-filter.js";

/** The filters to run before the router; throws PilotfishError CONFIG_INVALID for a filter that cannot compile. */
export function buildHttpFilters(
  configs: readonly HttpFilterConfig[],
  store: StatsStore,
  statPrefix: string,
  random: Random,
  clock: Clock = systemClock,
): readonly HttpFilter[] {
  const out: HttpFilter[] = [];
  for (const c of configs) {
    switch (c.kind) {
      case "rbac":
        out.push(new RbacFilter(c.name, c.rbac, store, statPrefix));
        break;
      case "local_ratelimit":
        out.push(new LocalRateLimitFilter(c.name, c.localRateLimit, store, clock, random));
        break;
      case "router":
        break;
    }
  }
  return Object.freeze(out);
}
