/**
 * Gives memory back to the system once the sidecar is ready, and again whenever its traffic has stopped:
 * one memory-reducing full GC (V8's "last resort" flavour: the old generation compacted, the young one
 * shrunk, pooled pages released). V8's own memory reducer never ran for an idle sidecar (RSS stayed at
 * 79 MiB for 20 s after start; one such GC took it to 70.5 MiB). Envoy's overload manager has the same
 * idea as an action (`envoy.overload_actions.shrink_heap`: tcmalloc releases its free pages).
 *
 * Never during traffic: such a GC holds the event loop for ~10-30 ms. "Traffic stopped" is an activity
 * count (requests and connections accepted) that moved since the check before last and not since the last.
 */
import type { Clock, TimerHandle } from "../common/clock.js";
import { exposedGc, type GcFunction } from "../common/v8-gc.js";
import type { Counter } from "../stats/stats-store.js";

/** How often the activity count is checked; a shrink follows the first quiet interval after traffic. */
export const SHRINK_CHECK_MS = 10_000;

export class HeapShrinker {
  private timer: TimerHandle | undefined;
  private last = 0;
  private busy = false;

  constructor(
    /** A count that grows with traffic (requests and connections accepted). */
    private readonly activity: () => number,
    /** Counts the shrinks (`server.heap_shrinks`). */
    private readonly shrinks: Counter,
    private readonly clock: Clock,
    /** V8's gc; without it (no --expose-gc) nothing is done. */
    private readonly gc: GcFunction | undefined = exposedGc,
    private readonly intervalMs = SHRINK_CHECK_MS,
  ) {}

  /** Shrinks now (the startup garbage: decoded config, module compilation), then watches the traffic. */
  start(): void {
    this.last = this.activity();
    this.shrink();
    this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One check: the timer's; tests call it directly. */
  check(): void {
    const now = this.activity();
    if (now !== this.last) {
      this.last = now;
      this.busy = true;
    } else if (this.busy) {
      this.busy = false;
      this.shrink();
    }
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => {
      this.check();
      this.arm();
    }, this.intervalMs);
  }

  private shrink(): void {
    if (this.gc === undefined) return;
    this.gc({ type: "major", execution: "sync", flavor: "last-resort" });
    this.shrinks.inc();
  }
}
