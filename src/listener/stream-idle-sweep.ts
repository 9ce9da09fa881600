/**
 * The HCM's stream_idle_timeout, kept by one coarse sweep per connection manager instead of a timer
 * per stream: node's per-stream setTimeout allocates a timer and a closure per request and refreshes
 * the timer on every read and write, which the request path pays for even though the timeout (5 min
 * by default) almost never fires.
 *
 * Calls stamp `activeAt` with the sweep's coarse clock when body bytes move either way; the sweep
 * runs every `idle/8` (50 ms .. 1 s) while calls are tracked, so a stream idles out between `idle`
 * and `idle + 2 intervals` after its last activity: never early, late by at most a quarter of `idle`.
 *
 * The tracked calls form an intrusive doubly linked list through the calls themselves, not a Set: a
 * JS Set that churns (one add and one delete per request) rehashes into a fresh table every few
 * requests, and V8 links each obsolete table to its successor for live iterators. Once one table is
 * promoted, that dead chain keeps every later table and the calls in it alive through scavenges
 * until the next full GC: at 2,000 req/s nearly every finished request was copied twice and promoted
 * (~0.8 MB per scavenge, 4–9 ms pauses). An unlinked call keeps no pointer to its neighbours, so
 * a finished call is garbage at once. docs/performance.md, "Scavenges and the idle sweep".
 */

/** What the sweep needs from a request: its activity stamp and two link fields the sweep owns. */
export interface IdleTracked<T> {
  /** Sweep time of the last activity. */
  activeAt: number;
  /** Previous tracked call (the sweep's business; null when first or untracked). */
  idlePrev: T | null;
  /** Next tracked call (the sweep's business; null when last or untracked). */
  idleNext: T | null;
}

/** Tracks active requests and idles out the quiet ones. */
export class StreamIdleSweep<T extends IdleTracked<T>> {
  /** Coarse clock (ms, performance.now() at the last sweep or track). */
  now = 0;
  /** Calls tracked now. */
  size = 0;
  private head: T | null = null;
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
    const head = this.head;
    call.idlePrev = null;
    call.idleNext = head;
    if (head !== null) head.idlePrev = call;
    this.head = call;
    this.size++;
  }

  /** Stops watching a request (it settled); a call not tracked is left alone. */
  untrack(call: T): void {
    const prev = call.idlePrev;
    const next = call.idleNext;
    if (prev === null && this.head !== call) return;
    if (prev === null) this.head = next;
    else prev.idleNext = next;
    if (next !== null) next.idlePrev = prev;
    call.idlePrev = null;
    call.idleNext = null;
    this.size--;
  }

  /** One sweep: advance the clock, idle out the quiet, stop when nothing is tracked. */
  run(): void {
    const now = (this.now = performance.now());
    // activeAt may lag real activity by one interval (the clock is coarse): never fire early.
    const limit = now - this.idleMs - this.intervalMs;
    let c = this.head;
    while (c !== null) {
      const next = c.idleNext;
      if (c.activeAt <= limit) {
        this.untrack(c);
        this.onIdle(c);
      }
      c = next;
    }
    if (this.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function sweep(s: { run(): void }): void {
  s.run();
}
