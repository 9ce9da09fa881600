/**
 * Envoy's local rate limit token bucket: starts full with `maxTokens`; every `fillIntervalMs` adds
 * `tokensPerFill`, capped at `maxTokens`. Refills are computed lazily from the injected clock when a
 * token is asked for (whole intervals only, as Envoy's timer-driven fill), so an idle bucket costs
 * nothing and tests drive time with a manual clock.
 */
import type { Clock } from "../../common/clock.js";
import type { TokenBucketConfig } from "../../config/policy-model.js";

export class TokenBucket {
  private tokens: number;
  /** Clock time of the last whole fill interval accounted for. */
  private lastFill: number;

  constructor(
    private readonly config: TokenBucketConfig,
    private readonly clock: Clock,
  ) {
    this.tokens = config.maxTokens;
    this.lastFill = clock.now();
  }

  /** Takes one token if there is one. */
  tryConsume(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Tokens available now. */
  get available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const { fillIntervalMs, tokensPerFill, maxTokens } = this.config;
    const elapsed = this.clock.now() - this.lastFill;
    if (elapsed < fillIntervalMs) return;
    const fills = Math.floor(elapsed / fillIntervalMs);
    this.lastFill += fills * fillIntervalMs;
    this.tokens = Math.min(maxTokens, this.tokens + fills * tokensPerFill);
  }
}
