/**
 * The HCM's stream_idle_timeout, kept by one coarse sweep per connection manager instead of a timer
 * per stream: node's per-stream setTimeout allocates a timer and a closure per request and refreshes
 * the timer on every read and write, which the request path pays for even though the timeout (5 min
 * by default) almost never fires.
 *
 * Calls stamp `activeAt` with the sweep's coarse clock when body bytes move either way; the sweep
 * runs every `idle/8` (50 ms .. 1 s) while calls are tracked, so a stream idles out between `idle`
 * and `idle + 2 intervals` after its last activity: never early, late by at most a quarter of `idle`.
 */

/** What the sweep needs from a request. */
export interface IdleTracked {
  /** Sweep time of the last activity. */
  activeAt: number;
}

/** Tracks active requests and idles out the quiet ones. */
export class StreamIdleSweep<T extends IdleTracked> {
  /** Coarse clock (ms, performance.now() at the last sweep or track). */
  now = 0;
  private readonly calls = new Set<T>();
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;

  constructor(
    /** stream_idle_timeout in ms; 0 disables the sweep (track/untrack do nothing). */
    readonly idleMs: number,
    /** Called once for a request that was idle for idleMs. */
    private readonly onIdle: (call: T) => void,
  ) {
    this.intervalMs = Math.min(1000, Math.max(50, Math.floor(idleMs / 8)));
  }

  /** Starts watching a request (its activity counts from now). */
  track(call: T): void {
    if (this.idleMs <= 0) return;
    if (this.timer === undefined) {
      this.now = performance.now();
      this.timer = setInterval(sweep, this.intervalMs, this);
      this.timer.unref();
    }
    call.activeAt = this.now;
    this.calls.add(call);
  }

  /** Stops watching a request (it settled). */
  untrack(call: T): void {
    if (this.idleMs > 0) this.calls.delete(call);
  }

  /** One sweep: advance the clock, idle out the quiet, stop when nothing is tracked. */
  run(): void {
    const now = (this.now = performance.now());
    // activeAt may lag real activity by one interval (the clock is coarse): never fire early.
    const limit = now - this.idleMs - this.intervalMs;
    for (const c of this.calls) {
      if (c.activeAt <= limit) {
        this.calls.delete(c);
        this.onIdle(c);
      }
    }
    if (this.calls.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function sweep(s: { run(): void }): void {
  s.run();
}
