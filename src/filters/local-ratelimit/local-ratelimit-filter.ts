/**
 * The local rate limit HTTP filter (envoy.filters.http.local_ratelimit): one token bucket per
 * filter, and one per route or virtual host that overrides it through `typed_per_filter_config`
 * (the override replaces the listener's limit, as in Envoy). Per Envoy's decodeHeaders:
 * a request outside `filter_enabled` passes uncounted; one inside counts `enabled` and takes a
 * token (`ok`); without a token it counts `rate_limited`, and if it falls within `filter_enforced`
 * also `enforced` and gets the local reply: the configured status (default 429) and body
 * "local_rate_limited", flag RL. gRPC callers get UNAVAILABLE (Envoy's mapping of 429), or
 * RESOURCE_EXHAUSTED with `rate_limited_as_resource_exhausted`.
 * Stats: `<stat_prefix>.http_local_rate_limit.enabled|ok|rate_limited|enforced`.
 */
import type { Clock, Random } from "../../common/clock.js";
import type { FractionConfig, LocalRateLimitConfig } from "../../config/policy-model.js";
import { Grpc, ResponseFlag } from "../../listener/response-flags.js";
import type { MatchedRoute } from "../../router/route-table.js";
import type { Counter, StatsStore } from "../../stats/stats-store.js";
import { httpToGrpcStatus, perRouteConfig, type FilterRequest, type HttpFilter, type LocalReply } from "../http-filter.js";
import { TokenBucket } from "./token-bucket.js";

/** Envoy's body for a rate-limited request. */
export const RATE_LIMITED_MESSAGE = "local_rate_limited";

/** One limit: its bucket, stats and reply. */
export class LocalRateLimiter {
  private readonly bucket: TokenBucket | undefined;
  private readonly enabled: Counter;
  private readonly ok: Counter;
  private readonly rateLimited: Counter;
  private readonly enforced: Counter;
  private readonly reply: LocalReply;

  constructor(
    private readonly config: LocalRateLimitConfig,
    store: StatsStore,
    clock: Clock,
    private readonly random: Random,
  ) {
    this.bucket = config.tokenBucket && new TokenBucket(config.tokenBucket, clock);
    const p = `${config.statPrefix}.http_local_rate_limit.`;
    this.enabled = store.counter(p + "enabled");
    this.ok = store.counter(p + "ok");
    this.rateLimited = store.counter(p + "rate_limited");
    this.enforced = store.counter(p + "enforced");
    this.reply = Object.freeze({
      httpStatus: config.status,
      grpcStatus: config.rateLimitedAsResourceExhausted ? Grpc.RESOURCE_EXHAUSTED : httpToGrpcStatus(config.status),
      flag: ResponseFlag.RL,
      message: RATE_LIMITED_MESSAGE,
    });
  }

  /** Counts the request and takes a token; the reply when it must be rejected. */
  check(): LocalReply | undefined {
    if (!this.sample(this.config.filterEnabled)) return undefined;
    this.enabled.inc();
    if (this.bucket === undefined || this.bucket.tryConsume()) {
      this.ok.inc();
      return undefined;
    }
    this.rateLimited.inc();
    if (!this.sample(this.config.filterEnforced)) return undefined;
    this.enforced.inc();
    return this.reply;
  }

  /** Envoy's featureEnabled for a fraction: 0% and 100% never draw a random number. */
  private sample(f: FractionConfig): boolean {
    if (f.numerator >= f.denominator) return true;
    if (f.numerator === 0) return false;
    return this.random.next() * f.denominator < f.numerator;
  }
}

export class LocalRateLimitFilter implements HttpFilter {
  private readonly limiter: LocalRateLimiter;
  /** Overrides' limiters, one per override config object (so per route table version). */
  private readonly overrides = new WeakMap<LocalRateLimitConfig, LocalRateLimiter>();

  constructor(
    readonly name: string,
    config: LocalRateLimitConfig,
    private readonly store: StatsStore,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {
    this.limiter = new LocalRateLimiter(config, store, clock, random);
  }

  onRequest(_req: FilterRequest, route: MatchedRoute | undefined): LocalReply | undefined {
    const override = perRouteConfig(route, this.name);
    if (override?.kind !== "local_ratelimit") return this.limiter.check();
    let limiter = this.overrides.get(override.localRateLimit);
    if (limiter === undefined) {
      limiter = new LocalRateLimiter(override.localRateLimit, this.store, this.clock, this.random);
      this.overrides.set(override.localRateLimit, limiter);
    }
    return limiter.check();
  }
}
