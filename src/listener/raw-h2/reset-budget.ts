/**
 * The rapid-reset budget of one HTTP/2 connection (CVE-2023-44487), nghttp2's as node:http2 applied it:
 * a token bucket of `burst` client resets, refilled `perSecond`; a client that empties it gets
 * GOAWAY(ENHANCE_YOUR_CALM). Legitimate clients cancel far less than 33 streams a second for long.
 */
export class ResetBudget {
  private tokens: number;
  private refilledAt = -1;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    /** Milliseconds, monotonic (injectable for tests). */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
  }

  /** Spends one token for a client reset; false once the bucket is empty. */
  take(): boolean {
    const now = this.now();
    if (this.refilledAt < 0) this.refilledAt = now;
    const refill = Math.floor(((now - this.refilledAt) * this.perSecond) / 1000);
    if (refill > 0) {
      this.tokens = Math.min(this.burst, this.tokens + refill);
      this.refilledAt = now;
    }
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }
}
