/** A Clock whose time moves only when the test says so, and a Random that replays given values. */
import type { Clock, Random, TimerHandle } from "../../../src/common/clock.js";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== (handle as unknown as Timer));
  }

  /** Moves time forward by `ms`, firing due timers in order (timers they set fire too if due). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }

  /** Timers pending. */
  get pending(): number {
    return this.timers.length;
  }
}

/** Returns `values` in turn, then `fallback` forever. */
export function fixedRandom(values: number[] = [], fallback = 0): Random & { values: number[] } {
  const r = {
    values: [...values],
    next(): number {
      return r.values.length > 0 ? r.values.shift()! : fallback;
    },
  };
  return r;
}
