/**
 * Exponential backoff with full jitter: attempt n waits uniformly in [base/2, min(max, base·2^n)], so a
 * fleet of sidecars losing the same server does not come back in lockstep.
 */
import type { Random } from "../common/clock.js";

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: Random,
  ) {}

  /** The next delay, in ms. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt++;
    const floor = Math.min(this.baseMs / 2, ceiling);
    return Math.round(floor + this.random.next() * (ceiling - floor));
  }

  /** Back to the first delay (after a successful exchange). */
  reset(): void {
    this.attempt = 0;
  }
}
